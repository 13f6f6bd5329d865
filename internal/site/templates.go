package site

import (
	"embed"
	"html/template"
)

// templates holds the pages (index.html, item.html, problem.html), their
// pieces (parts.tmpl: the page top, the leaderboard, SVG), the stylesheet
// added to report's (site.css) and the script (site.js), kept as files so
// they can be read and edited as HTML, CSS and JavaScript.
//
//go:embed templates
var templateFiles embed.FS

var siteTemplates = template.Must(template.New("site").ParseFS(templateFiles, "templates/*.html", "templates/*.tmpl"))

func mustRead(name string) string {
	b, err := templateFiles.ReadFile("templates/" + name)
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	return string(b)
}

// siteCSS is the site's stylesheet, added to report's.
func siteCSS() template.CSS { return template.CSS(mustRead("site.css")) }

// siteJS is the inline script: sorting and filtering only.
func siteJS() template.JS { return template.JS(mustRead("site.js")) }
