package config

import (
	"encoding/json"
	"testing"
)

func TestRunAsLoads(t *testing.T) {
	src := "agents:\n  a: {type: noop, run_as: \"65534:65533\"}\n  b: {type: noop, runtime: host, run_as: 1000}\n  c: {type: noop, run_as: 65534:65534}\n  d: {type: noop}\n"
	b, err := parseBench("bench.yaml", "/srv/b", []byte(src), Vars{}, testKinds)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "65534:65533", "b": "1000:1000", "c": "65534:65534"} {
		a := b.Agents.Lookup(name)
		if a.RunAs == nil || a.RunAs.String() != want {
			t.Errorf("%s: run_as %v, want %s", name, a.RunAs, want)
		}
	}
	d := b.Agents.Lookup("d")
	if d.RunAs != nil {
		t.Errorf("d: run_as %v, want none", d.RunAs)
	}
	// run.json: a string, read back the same; absent when unset, so the
	// hash of an entry without it does not move.
	data, err := json.Marshal(b.Agents.Lookup("a"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"a","type":"noop","limits":{"kill_grace":"10s"},"runtime":"host","run_as":"65534:65533"}`
	if string(data) != want {
		t.Errorf("json\n got %s\nwant %s", data, want)
	}
	var back Agent
	if err := json.Unmarshal(data, &back); err != nil || back.RunAs == nil || *back.RunAs != (RunAs{65534, 65533}) {
		t.Errorf("read back %+v, %v", back.RunAs, err)
	}
	if data, _ := json.Marshal(d); string(data) != `{"name":"d","type":"noop","limits":{"kill_grace":"10s"},"runtime":"host"}` {
		t.Errorf("json without run_as: %s", data)
	}
}

func TestRunAsErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"agents:\n  a:\n    type: noop\n    runtime: container\n    image: i\n    run_as: 65534\n",
			`bench.yaml:6:13: agents.a.run_as: only valid with runtime: host (this entry has runtime: "container")`},
		{"agents:\n  a:\n    type: noop\n    run_as: nobody\n",
			`bench.yaml:4:13: agents.a.run_as: expected UID[:GID] (numbers, not 0), got "nobody": uid is not a decimal number`},
		{"agents:\n  a:\n    type: noop\n    run_as: \"0:0\"\n",
			`bench.yaml:4:13: agents.a.run_as: expected UID[:GID] (numbers, not 0), got "0:0": uid must not be 0 (root)`},
		{"agents:\n  a:\n    type: noop\n    run_as: \"1000:0\"\n",
			`bench.yaml:4:13: agents.a.run_as: expected UID[:GID] (numbers, not 0), got "1000:0": gid must not be 0 (root)`},
		{"agents:\n  a:\n    type: noop\n    run_as: \"1000:\"\n",
			`bench.yaml:4:13: agents.a.run_as: expected UID[:GID] (numbers, not 0), got "1000:": gid is not a decimal number`},
		{"agents:\n  a:\n    type: noop\n    run_as: \"-1\"\n",
			`bench.yaml:4:13: agents.a.run_as: expected UID[:GID] (numbers, not 0), got "-1": uid is not a decimal number`},
		{"agents:\n  a:\n    type: noop\n    run_as: 4294967295\n",
			`bench.yaml:4:13: agents.a.run_as: expected UID[:GID] (numbers, not 0), got "4294967295": uid is out of range (at most 4294967294)`},
		{"agents:\n  a:\n    type: noop\n    run_as: [1]\n",
			`bench.yaml:4:13: agents.a.run_as: expected a string, got a list`},
		{"agents:\n  a:\n    type: noop\n    runtime: vm\n    run_as: 1\n",
			`bench.yaml:4:14: agents.a.runtime: expected host or container, got "vm"`},
	} {
		_, err := parseBench("bench.yaml", "/srv/b", []byte(tc.src), Vars{}, testKinds)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		} else if !isBadInput(err) {
			t.Errorf("%q: not bad input", tc.src)
		}
	}
}
