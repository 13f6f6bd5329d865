package secrets

import "strings"

// SearchKeyDenyList names the environment variables of web-search APIs.
// They must never reach an agent: an agent that can search the web can
// look up the human's commit and copy it, which would void the benchmark.
var SearchKeyDenyList = []string{
	"TAVILY_API_KEY",
	"SEARCH_API_KEY", // OpenHands' search tool
	"SERPER_API_KEY",
	"SERPAPI_API_KEY",
	"SERPAPI_KEY",
	"BRAVE_API_KEY",
	"BRAVE_SEARCH_API_KEY",
	"BING_SEARCH_API_KEY",
	"BING_SUBSCRIPTION_KEY",
	"GOOGLE_CSE_ID",
	"GOOGLE_CSE_API_KEY",
	"GOOGLE_SEARCH_API_KEY",
	"EXA_API_KEY",
	"PERPLEXITY_API_KEY",
	"PPLX_API_KEY",
	"JINA_API_KEY",
	"FIRECRAWL_API_KEY",
	"YDC_API_KEY",
	"SEARCHAPI_API_KEY",
	"SEARXNG_URL",
	"KAGI_API_KEY",
	"LINKUP_API_KEY",
}

// FilterEnv returns env ("NAME=value" entries) without the variables named
// in deny. Names compare case-insensitively, so tavily_api_key is removed
// too; a deny entry ending in "*" removes every name with that prefix
// (e.g. "SERPAPI_*"). env is not modified; the order is kept.
func FilterEnv(env []string, deny []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !denied(name, deny) {
			out = append(out, kv)
		}
	}
	return out
}

func denied(name string, deny []string) bool {
	u := strings.ToUpper(name)
	for _, d := range deny {
		d = strings.ToUpper(d)
		if p, ok := strings.CutSuffix(d, "*"); ok {
			if strings.HasPrefix(u, p) {
				return true
			}
		} else if u == d {
			return true
		}
	}
	return false
}
