package envbuild

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// removeRootImages removes, at the end of the test, every image labelled
// with its state root: also those a rebuild left untagged (--no-cache
// moves the tag), which no tag finds. Never forced: an image a container
// still uses stays.
func removeRootImages(t *testing.T, root string) {
	t.Cleanup(func() {
		out, err := exec.Command("docker", "images", "-q", "--no-trunc", "--filter", "label="+LabelStateRoot+"="+root).Output()
		if err != nil {
			return
		}
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"rmi"}, ids...)...).Run()
		}
	})
}

// stepImage is the legacy builder's line for the image a step committed.
var stepImage = regexp.MustCompile(`(?m)^ ---> ([0-9a-f]{12,64})\s*$`)

// removeStepImages removes, at the end of the test, the images the legacy
// builder committed for the steps of a failed build: they carry none of
// perfbench's labels (those come with the last step), and nothing removes
// them otherwise. out is the build's output when the test ends. Never
// forced: one a later image is built on stays (and goes with it).
func removeStepImages(t *testing.T, out func() string) {
	t.Cleanup(func() {
		var ids []string
		for _, m := range stepImage.FindAllStringSubmatch(out(), -1) {
			ids = append(ids, m[1])
		}
		for i := len(ids) - 1; i >= 0; i-- { // the last step first: the others are its parents
			exec.Command("docker", "rmi", ids[i]).Run()
		}
	})
}
