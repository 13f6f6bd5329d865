package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

// maxVisits bounds the work of decoding one file: aliases make the tree a
// DAG, and a few lines of nested aliases ("billion laughs") would otherwise
// expand into billions of values.
const maxVisits = 1 << 17

// decoder decodes a node tree into Go values, recording where every field
// was set so that validation can point at it.
type decoder struct {
	file   string
	env    Vars
	kinds  agentKinds
	visits int
	// ignored lists the ignored seed fields met, as dotted paths.
	ignored []string
	// keyPos and valPos hold the position of the key and of the value of
	// every field set to a non-null value, by dotted path.
	keyPos map[string]Pos
	valPos map[string]Pos
}

func newDecoder(file string, env Vars) *decoder {
	return &decoder{file: file, env: env, keyPos: map[string]Pos{}, valPos: map[string]Pos{}}
}

// nodeDecoder is implemented by types whose YAML shape is not a plain
// struct (a scalar-or-mapping, or a mapping with a special key).
type nodeDecoder interface {
	decodeNode(d *decoder, n *node, path string) error
}

func (d *decoder) pos(n *node) Pos { return Pos{File: d.file, Line: n.line, Col: n.col} }

func (d *decoder) errAt(n *node, field, format string, args ...any) *Error {
	return &Error{Pos: d.pos(n), Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) errAtPos(p Pos, field, format string, args ...any) *Error {
	return &Error{Pos: p, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// isSet reports whether the file set the field at path to a non-null
// value.
func (d *decoder) isSet(path string) bool {
	_, ok := d.valPos[path]
	return ok
}

// posOf returns where the field at path was set, else where its closest
// set ancestor was, else the start of the file: a missing field is
// reported where the reader would add it.
func (d *decoder) posOf(path string) Pos {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := d.keyPos[p]; ok {
			return pos
		}
	}
	return Pos{File: d.file, Line: 1, Col: 1}
}

// valueAt returns the position of the value of the field at path, or of
// its key when unknown.
func (d *decoder) valueAt(path string) Pos {
	if pos, ok := d.valPos[path]; ok {
		return pos
	}
	return d.posOf(path)
}

func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

func (d *decoder) record(path string, k, v *node) {
	if v.kind == nullNode {
		return
	}
	if k != nil {
		d.keyPos[path] = d.pos(k)
	} else {
		d.keyPos[path] = d.pos(v)
	}
	d.valPos[path] = d.pos(v)
}

func (d *decoder) visit(n *node, path string) error {
	d.visits++
	if d.visits > maxVisits {
		return d.errAt(n, path, "too many values (more than %d, counting aliases)", maxVisits)
	}
	return nil
}

// decodeTop decodes a whole file into the struct out points to.
func (d *decoder) decodeTop(root *node, out any, what string) error {
	if root == nil || root.kind == nullNode {
		return nil
	}
	if root.kind != mapNode {
		return d.errAt(root, "", "expected a mapping of %s fields at the top level, got %s", what, describe(root))
	}
	return d.decodeStruct(root, reflect.ValueOf(out).Elem(), "")
}

var durationType = reflect.TypeFor[records.Duration]()

// decodeValue decodes n into v, which must be settable.
func (d *decoder) decodeValue(n *node, v reflect.Value, path string) error {
	if err := d.visit(n, path); err != nil {
		return err
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			return nd.decodeNode(d, n, path)
		}
	}
	if v.Kind() == reflect.Interface {
		// Generic values keep whatever the file says, tags included.
		if n.kind != nullNode {
			g, err := d.generic(n, path)
			if err != nil {
				return err
			}
			v.Set(reflect.ValueOf(g))
		}
		return nil
	}
	if err := d.checkTag(n, path); err != nil {
		return err
	}
	if v.Type() == durationType {
		return d.decodeDuration(n, v, path)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.kind == nullNode {
			v.SetZero()
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := d.decodeValue(n, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return d.decodeStruct(n, v, path)
	case reflect.Map:
		return d.decodeMap(n, v, path)
	case reflect.Slice:
		return d.decodeSlice(n, v, path)
	case reflect.String:
		s, ok, err := d.scalar(n, path)
		if err != nil || !ok {
			return d.orTypeError(err, n, path, "a string")
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		return d.decodeBool(n, v, path)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return d.decodeInt(n, v, path)
	case reflect.Float32, reflect.Float64:
		return d.decodeFloat(n, v, path)
	default:
		// A programming error in the schema, not bad input.
		panic(fmt.Sprintf("config: field %s has unsupported type %s", path, v.Type()))
	}
}

// knownTags are the YAML core tags; they change nothing here because the
// Go field decides how a scalar is read ("!!str" was applied when the tree
// was built).
var knownTags = []string{"", "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq"}

func (d *decoder) checkTag(n *node, path string) error {
	if !slices.Contains(knownTags, n.tag) {
		return d.errAt(n, path, "unsupported YAML tag %q", n.tag)
	}
	return nil
}

// scalar returns a scalar's text with ${VAR} references expanded. ok is
// false for null (the field keeps its zero value) and for collections.
func (d *decoder) scalar(n *node, path string) (s string, ok bool, err error) {
	if n.kind != scalarNode {
		return "", false, nil
	}
	s, err = Expand(n.value, d.env.Lookup)
	if err != nil {
		return "", false, d.errAt(n, path, "%v", err)
	}
	return s, true, nil
}

// orTypeError returns err if set, nil for a null node (zero value), else a
// type error naming what was expected.
func (d *decoder) orTypeError(err error, n *node, path, want string) error {
	if err != nil {
		return err
	}
	if n.kind == nullNode {
		return nil
	}
	return d.typeError(n, path, want, describe(n))
}

func (d *decoder) typeError(n *node, path, want, got string) *Error {
	return d.errAt(n, path, "expected %s, got %s", want, got)
}

// describe names what a node holds, for "expected X, got Y" messages.
func describe(n *node) string {
	switch n.kind {
	case mapNode:
		return "a mapping"
	case seqNode:
		return "a list"
	case nullNode:
		return "null"
	default:
		return quoteShort(n.value)
	}
}

// quoteShort quotes user text for a message, cut to a readable length.
func quoteShort(s string) string {
	const limit = 60
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}

func (d *decoder) decodeDuration(n *node, v reflect.Value, path string) error {
	s, ok, err := d.scalar(n, path)
	if err != nil || !ok {
		return d.orTypeError(err, n, path, "a Go duration such as 90s")
	}
	dur, perr := time.ParseDuration(strings.TrimSpace(s))
	if perr != nil {
		return d.typeError(n, path, "a Go duration such as 90s", quoteShort(s))
	}
	v.SetInt(int64(dur))
	return nil
}

func (d *decoder) decodeBool(n *node, v reflect.Value, path string) error {
	s, ok, err := d.scalar(n, path)
	if err != nil || !ok {
		return d.orTypeError(err, n, path, "true or false")
	}
	switch s {
	case "true":
		v.SetBool(true)
	case "false":
		v.SetBool(false)
	default:
		return d.typeError(n, path, "true or false", quoteShort(s))
	}
	return nil
}

func (d *decoder) decodeInt(n *node, v reflect.Value, path string) error {
	s, ok, err := d.scalar(n, path)
	if err != nil || !ok {
		return d.orTypeError(err, n, path, "an integer")
	}
	i, perr := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if perr != nil || v.OverflowInt(i) {
		if perr != nil && !isRangeError(perr) {
			return d.typeError(n, path, "an integer", quoteShort(s))
		}
		return d.errAt(n, path, "integer %s is out of range", quoteShort(s))
	}
	v.SetInt(i)
	return nil
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (d *decoder) decodeFloat(n *node, v reflect.Value, path string) error {
	s, ok, err := d.scalar(n, path)
	if err != nil || !ok {
		return d.orTypeError(err, n, path, "a number")
	}
	f, perr := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if perr != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return d.typeError(n, path, "a number", quoteShort(s))
	}
	v.SetFloat(f)
	return nil
}

func (d *decoder) decodeSlice(n *node, v reflect.Value, path string) error {
	if n.kind == nullNode {
		return nil
	}
	if n.kind != seqNode {
		return d.typeError(n, path, "a list", describe(n))
	}
	out := reflect.MakeSlice(v.Type(), len(n.items), len(n.items))
	for i, item := range n.items {
		sub := path + "[" + strconv.Itoa(i) + "]"
		d.record(sub, nil, item)
		if err := d.decodeValue(item, out.Index(i), sub); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

func (d *decoder) decodeMap(n *node, v reflect.Value, path string) error {
	if n.kind == nullNode {
		return nil
	}
	if n.kind != mapNode {
		return d.typeError(n, path, "a mapping", describe(n))
	}
	if v.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("config: field %s: map keys must be strings", path))
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(v.Type(), len(n.keys)))
	}
	for i, k := range n.keys {
		sub := joinPath(path, k.value)
		d.record(sub, k, n.items[i])
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.decodeValue(n.items[i], elem, sub); err != nil {
			return err
		}
		v.SetMapIndex(reflect.ValueOf(k.value).Convert(v.Type().Key()), elem)
	}
	return nil
}

// decodeStruct decodes a mapping into a struct by its yaml tags, rejecting
// unknown keys and listing ignored seed fields.
func (d *decoder) decodeStruct(n *node, v reflect.Value, path string) error {
	if n.kind == nullNode {
		return nil
	}
	if n.kind != mapNode {
		return d.typeError(n, path, "a mapping", describe(n))
	}
	fields := fieldsOf(v.Type())
	for i, k := range n.keys {
		val := n.items[i]
		sub := joinPath(path, k.value)
		f, ok := fields.byName[k.value]
		if !ok {
			return d.errAt(k, path, "%s", unknownFieldMsg(k.value, fields.names))
		}
		if f.ignored {
			if !slices.Contains(d.ignored, sub) {
				d.ignored = append(d.ignored, sub)
			}
			// Kept raw (no ${VAR} expansion): nothing reads it, so a
			// reference in it must not be able to fail the load.
			g, err := d.generic(val, sub)
			if err != nil {
				return err
			}
			if g != nil {
				v.FieldByIndex(f.index).Set(reflect.ValueOf(g))
			}
			continue
		}
		d.record(sub, k, val)
		if err := d.decodeValue(val, v.FieldByIndex(f.index), sub); err != nil {
			return err
		}
	}
	return nil
}

// generic converts a node to plain Go values (map[string]any, []any,
// string, bool, int, float64, nil) without ${VAR} expansion.
func (d *decoder) generic(n *node, path string) (any, error) {
	if err := d.visit(n, path); err != nil {
		return nil, err
	}
	switch n.kind {
	case nullNode:
		return nil, nil
	case scalarNode:
		return plainValue(n), nil
	case seqNode:
		out := make([]any, len(n.items))
		for i, item := range n.items {
			g, err := d.generic(item, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = g
		}
		return out, nil
	default:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			g, err := d.generic(n.items[i], joinPath(path, k.value))
			if err != nil {
				return nil, err
			}
			out[k.value] = g
		}
		return out, nil
	}
}

// plainValue types an unquoted scalar the way YAML's core schema would.
func plainValue(n *node) any {
	if !n.plain {
		return n.value
	}
	switch n.value {
	case "true":
		return true
	case "false":
		return false
	}
	if i, err := strconv.Atoi(n.value); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(n.value, 64); err == nil {
		return f
	}
	return n.value
}

// unknownFieldMsg names the valid keys and, for a likely typo, the one
// meant.
func unknownFieldMsg(key string, valid []string) string {
	if best := closest(key, valid); best != "" {
		return fmt.Sprintf("unknown field %s (did you mean %q? expected one of: %s)", quoteShort(key), best, strings.Join(valid, ", "))
	}
	return fmt.Sprintf("unknown field %s (expected one of: %s)", quoteShort(key), strings.Join(valid, ", "))
}

// closest returns the valid name nearest to key when it is close enough to
// be a typo, else "".
func closest(key string, valid []string) string {
	best, bestDist := "", math.MaxInt
	for _, v := range valid {
		if dist := editDistance(key, v); dist < bestDist {
			best, bestDist = v, dist
		}
	}
	if bestDist <= max(1, min(len(key), len(best))/3) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Not a typo of a field name; spare the quadratic work.
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// structFields is the YAML view of a struct type.
type structFields struct {
	byName map[string]fieldInfo
	names  []string // in declaration order, for messages
}

type fieldInfo struct {
	index   []int
	ignored bool
	// args marks an agent type's key the seed may also write under args:
	// (see AgentKind.NewOptions).
	args bool
}

var fieldCache sync.Map // reflect.Type → *structFields

func fieldsOf(t reflect.Type) *structFields {
	if cached, ok := fieldCache.Load(t); ok {
		return cached.(*structFields)
	}
	fs := &structFields{byName: map[string]fieldInfo{}}
	collectFields(t, nil, fs)
	cached, _ := fieldCache.LoadOrStore(t, fs)
	return cached.(*structFields)
}

// collectFields reads the yaml tags of t's fields. Only tagged fields are
// read from YAML; an untagged embedded struct is inlined, like
// encoding/json does.
func collectFields(t reflect.Type, prefix []int, fs *structFields) {
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(slices.Clone(prefix), i)
		tag, hasTag := f.Tag.Lookup("yaml")
		if !hasTag {
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				collectFields(f.Type, index, fs)
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" || !f.IsExported() {
			continue
		}
		if _, dup := fs.byName[name]; dup {
			panic(fmt.Sprintf("config: %s: yaml name %q used twice", t, name))
		}
		fs.byName[name] = fieldInfo{index: index, ignored: opts == "ignored", args: opts == "args"}
		fs.names = append(fs.names, name)
	}
}
