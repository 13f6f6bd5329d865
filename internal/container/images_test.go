package container

import (
	"slices"
	"testing"
)

// parseImages reads docker's lines (one per tag, an untagged image as
// <none>) and podman's summaries (tags as a list, ids without their
// algorithm).
func TestParseImages(t *testing.T) {
	docker := `{"Containers":"N/A","CreatedAt":"2026-12-04 20:00:00 +0000 UTC","Digest":"\u003cnone\u003e","ID":"sha256:aaaa","Repository":"perfbench-env/demo","Tag":"0123","Size":"1.98MB"}
{"ID":"sha256:aaaa","Repository":"perfbench-env/demo","Tag":"latest"}
{"ID":"sha256:bbbb","Repository":"\u003cnone\u003e","Tag":"\u003cnone\u003e"}
`
	podman := `[{"Id":"cccc","RepoTags":["localhost/perfbench-env/demo:0123","localhost/x:1"],"Labels":{"a":"b"}},{"Id":"dddd","Names":null}]`
	for _, tc := range []struct {
		name, out string
		want      []LocalImage
		ids       []string
	}{
		{"docker", docker, []LocalImage{{ID: "sha256:aaaa", Ref: "perfbench-env/demo:0123"}, {ID: "sha256:aaaa", Ref: "perfbench-env/demo:latest"}, {ID: "sha256:bbbb"}}, []string{"sha256:aaaa", "sha256:bbbb"}},
		{"podman", podman, []LocalImage{{ID: "sha256:cccc", Ref: "localhost/perfbench-env/demo:0123"}, {ID: "sha256:cccc", Ref: "localhost/x:1"}, {ID: "sha256:dddd"}}, []string{"sha256:cccc", "sha256:dddd"}},
		{"none", "\n", nil, nil},
	} {
		imgs, ids, err := parseImages([]byte(tc.out))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.EqualFunc(imgs, tc.want, func(a, b LocalImage) bool { return a.ID == b.ID && a.Ref == b.Ref }) || !slices.Equal(ids, tc.ids) {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, imgs, ids, tc.want, tc.ids)
		}
	}
	if _, _, err := parseImages([]byte("{not json")); err == nil {
		t.Error("no error on bad output")
	}
}
