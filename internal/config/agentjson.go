package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// agentJSON is Agent without its methods, for the common keys' encoding.
type agentJSON Agent

// MarshalJSON writes the common keys and then the type's options, inlined,
// in one object: the shape run.json had when every type's keys were fields
// of Agent, so that AgentConfigHash (internal/prepare) of an unchanged
// entry is unchanged and old runs still resume.
func (a Agent) MarshalJSON() ([]byte, error) {
	common, err := marshalRaw(agentJSON(a))
	if err != nil {
		return nil, err
	}
	if a.Options == nil {
		return common, nil
	}
	opts, err := marshalRaw(a.Options)
	if err != nil {
		return nil, fmt.Errorf("agent %s options: %w", a.Name, err)
	}
	if len(opts) == 0 || opts[0] != '{' {
		return nil, fmt.Errorf("agent %s options: not a JSON object: %s", a.Name, opts)
	}
	if bytes.Equal(opts, []byte("{}")) {
		return common, nil
	}
	out := append(common[:len(common)-1:len(common)-1], ',')
	return append(out, opts[1:]...), nil
}

// marshalRaw is json.Marshal without HTML escaping: the caller's encoder
// decides (json.Marshal escapes the result again, fsx.MarshalJSON keeps
// "<" as written), as for any struct.
func marshalRaw(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads what MarshalJSON wrote: the common keys into Agent,
// every other key, in order, into Options as one raw JSON object, so that
// a run.json read and written again keeps them.
func (a *Agent) UnmarshalJSON(data []byte) error {
	var common agentJSON
	if err := json.Unmarshal(data, &common); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // the opening brace
		return err
	}
	known := commonJSONKeys()
	var rest bytes.Buffer
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if slices.Contains(known, key) {
			continue
		}
		if rest.Len() == 0 {
			rest.WriteByte('{')
		} else {
			rest.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		rest.Write(k)
		rest.WriteByte(':')
		rest.Write(v)
	}
	*a = Agent(common)
	if rest.Len() > 0 {
		rest.WriteByte('}')
		a.Options = json.RawMessage(rest.Bytes())
	}
	return nil
}

// commonJSONKeys are the JSON names of Agent's own fields.
func commonJSONKeys() []string {
	var keys []string
	t := reflect.TypeFor[Agent]()
	for i := range t.NumField() {
		name, _, _ := bytes.Cut([]byte(t.Field(i).Tag.Get("json")), []byte(","))
		if len(name) > 0 && string(name) != "-" {
			keys = append(keys, string(name))
		}
	}
	return keys
}
