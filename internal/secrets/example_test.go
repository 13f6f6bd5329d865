package secrets_test

import (
	"fmt"
	"strings"

	"github.com/perfbench/perfbench/internal/secrets"
)

func ExampleSet_Display() {
	env := []string{"OPENAI_API_KEY=sk-proj-0123456789", "LLM_MODEL=gpt-x"}
	s := secrets.FromEnv(env, nil)
	fmt.Println(s.Display([]string{"docker", "run", "-e", "OPENAI_API_KEY=sk-proj-0123456789", "img", "agent", "--api-key", "sk-proj-0123456789", "--task", "make it fast"}))
	// Output:
	// docker run -e 'OPENAI_API_KEY=[REDACTED]' img agent --api-key '[REDACTED]' --task 'make it fast'
}

func ExampleSet_Writer() {
	s := secrets.FromEnv([]string{"GITHUB_TOKEN=ghp_0123456789abcdef"}, nil)
	var log strings.Builder // an agent's log file in real use
	w := s.Writer(&log)
	// A secret split across writes is still caught.
	fmt.Fprint(w, "cloning with ghp_0123")
	fmt.Fprint(w, "456789abcdef done\n")
	w.Close() // flushes what was held back; closes the log if it is a Closer
	fmt.Print(log.String())
	// Output:
	// cloning with [REDACTED:GITHUB_TOKEN] done
}
