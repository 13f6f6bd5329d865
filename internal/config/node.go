package config

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// nodeKind is the shape of a YAML value, which is all the decoder needs:
// scalars keep their text and are typed by the Go field they land in.
type nodeKind uint8

const (
	nullNode nodeKind = iota
	scalarNode
	mapNode
	seqNode
)

// node is one YAML value with its position. Anchors, aliases and merge
// keys are already resolved, so the tree may share subtrees (a DAG).
type node struct {
	kind nodeKind
	// value is a scalar's text, unquoted and unescaped.
	value string
	// plain is true for unquoted scalars, whose text may be a number or a
	// boolean in a generic (any) field.
	plain bool
	// tag is an explicit tag such as "!!str", "" when none.
	tag       string
	line, col int
	// keys and items hold a mapping's entries (items[i] is the value of
	// keys[i]) or a sequence's items.
	keys  []*node
	items []*node
}

// lookup returns the value of a mapping's key, or nil.
func (n *node) lookup(key string) *node {
	if n == nil || n.kind != mapNode {
		return nil
	}
	for i, k := range n.keys {
		if k.value == key {
			return n.items[i]
		}
	}
	return nil
}

// Limits that keep hostile or broken files from exhausting the stack or
// memory: configuration files are small, so real files never reach them.
const (
	maxFileSize  = 8 << 20
	maxNestDepth = 100
)

// parseYAML parses src into a node tree: nil for an empty document.
func parseYAML(file string, src []byte) (root *node, err error) {
	if len(src) > maxFileSize {
		return nil, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}
	}
	// A byte order mark is allowed by YAML (Windows editors write one)
	// but would otherwise glue itself to the first key.
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	// The parser replaces invalid bytes silently and values would carry
	// them into commands, file names and JSON; a config file is text.
	if line, bad := invalidUTF8(src); bad {
		return nil, &Error{Pos: Pos{File: file, Line: line}, Msg: "invalid UTF-8"}
	}
	if line, col, found := tooDeep(src); found {
		return nil, &Error{Pos: Pos{File: file, Line: line, Col: col}, Msg: fmt.Sprintf("values nested more than %d deep", maxNestDepth)}
	}
	// The parser is a third-party state machine fed arbitrary bytes; a
	// panic in it must become a bad-input error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("invalid YAML (parser failure: %v)", r)}
		}
	}()
	// Duplicate keys are detected below, where the field path is known.
	f, err := parser.ParseBytes(src, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, syntaxError(file, err)
	}
	c := &converter{file: file, anchors: map[string]*node{}}
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if root != nil {
			return nil, c.errAt(doc.Body, "", "a file holds one YAML document, found a second one")
		}
		if root, err = c.convert(doc.Body, "", 0); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// invalidUTF8 returns the line of the first byte sequence of src that is
// not UTF-8.
func invalidUTF8(src []byte) (line int, found bool) {
	if utf8.Valid(src) {
		return 0, false
	}
	line = 1
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		if r == utf8.RuneError && size <= 1 {
			return line, true
		}
		if r == '\n' {
			line++
		}
		src = src[size:]
	}
	return line, true
}

// tooDeep returns the position where src nests more than maxNestDepth
// levels in a way the parser handles badly: flow brackets recurse it (a
// stack overflow is fatal, no recover catches it), and compact sequences
// ("- - - - x") take it time that grows with the cube of their depth.
// Brackets inside quotes or comments count too: an overestimate only
// matters for absurd files. Columns count characters, as the parser's do.
func tooDeep(src []byte) (line, col int, found bool) {
	depth := 0
	line, lineStart := 1, 0
	dashes, inIndent := 0, true // compact "- " indicators opening this line
	for i, c := range src {
		switch {
		case c == '\n':
			line, lineStart = line+1, i+1
			dashes, inIndent = 0, true
			continue
		case c == '[' || c == '{':
			if depth++; depth > maxNestDepth {
				return line, utf8.RuneCount(src[lineStart:i]) + 1, true
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
		if !inIndent {
			continue
		}
		switch {
		case c == '-' && i+1 < len(src) && (src[i+1] == ' ' || src[i+1] == '\t'):
			if dashes++; dashes > maxNestDepth {
				return line, utf8.RuneCount(src[lineStart:i]) + 1, true
			}
		case c == ' ' || c == '\t':
		default:
			inIndent = false
		}
	}
	return 0, 0, false
}

// syntaxError turns a goccy error into a one-line Error: its own message
// carries a multi-line source excerpt, so only the message and position
// are kept.
func syntaxError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		pos := Pos{File: file}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pos.Line, pos.Col = tk.Position.Line, tk.Position.Column
		}
		return &Error{Pos: pos, Msg: "invalid YAML: " + ye.GetMessage()}
	}
	return &Error{Pos: Pos{File: file}, Msg: "invalid YAML: " + err.Error()}
}

// converter turns the goccy AST into nodes, resolving anchors in file
// order.
type converter struct {
	file    string
	anchors map[string]*node
}

func (c *converter) errAt(n ast.Node, field, format string, args ...any) *Error {
	line, col := astPos(n)
	return &Error{Pos: Pos{File: c.file, Line: line, Col: col}, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func astPos(n ast.Node) (line, col int) {
	if n == nil {
		return 0, 0
	}
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 {
		// A block mapping's token is its first ':'; its first key is
		// where a reader sees it start.
		return astPos(m.Values[0].Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

// convert converts n; path is the dotted field path, for error messages.
func (c *converter) convert(n ast.Node, path string, depth int) (*node, error) {
	if depth > maxNestDepth {
		// No field path: it would be maxNestDepth segments long.
		return nil, c.errAt(n, "", "values nested more than %d deep", maxNestDepth)
	}
	line, col := astPos(n)
	switch n := n.(type) {
	case nil:
		return &node{kind: nullNode}, nil
	case *ast.NullNode, *ast.CommentNode, *ast.CommentGroupNode, *ast.DirectiveNode:
		return &node{kind: nullNode, line: line, col: col}, nil
	case *ast.StringNode:
		return &node{kind: scalarNode, value: n.Value, plain: n.Token.Type == token.StringType, line: line, col: col}, nil
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode, *ast.MergeKeyNode:
		// The source text, not the parsed value: the Go field decides what
		// the text means (1.5 is not silently an int).
		return &node{kind: scalarNode, value: n.GetToken().Value, plain: true, line: line, col: col}, nil
	case *ast.LiteralNode:
		text := ""
		if n.Value != nil {
			text = n.Value.Value
		}
		return &node{kind: scalarNode, value: text, line: line, col: col}, nil
	case *ast.MappingNode:
		return c.convertMap(n.Values, path, line, col, depth)
	case *ast.MappingValueNode:
		return c.convertMap([]*ast.MappingValueNode{n}, path, line, col, depth)
	case *ast.SequenceNode:
		return c.convertSeq(n, path, line, col, depth)
	case *ast.AnchorNode:
		v, err := c.convert(n.Value, path, depth+1)
		if err != nil {
			return nil, err
		}
		c.anchors[anchorName(n.Name)] = v
		return v, nil
	case *ast.AliasNode:
		target, ok := c.anchors[anchorName(n.Value)]
		if !ok {
			return nil, c.errAt(n, path, "unknown anchor %q", anchorName(n.Value))
		}
		// A shallow copy, so that an error about this value points at the
		// alias rather than at the anchor.
		v := *target
		v.line, v.col = line, col
		return &v, nil
	case *ast.TagNode:
		return c.convertTagged(n, path, line, col, depth)
	default:
		return nil, c.errAt(n, path, "unsupported YAML construct (%s)", n.Type())
	}
}

// anchorName is the text of an anchor's or alias's name token (also used
// for the text of a null key).
func anchorName(n ast.Node) string {
	if n == nil || n.GetToken() == nil {
		return ""
	}
	return n.GetToken().Value
}

func (c *converter) convertTagged(n *ast.TagNode, path string, line, col, depth int) (*node, error) {
	v, err := c.convert(n.Value, path, depth+1)
	if err != nil {
		return nil, err
	}
	tagged := *v
	tagged.tag = n.Start.Value
	if tagged.tag == "!!str" {
		// An explicit string: "!!str 12" is the text "12", "!!str" alone
		// the empty string.
		if tagged.kind == nullNode {
			tagged.kind, tagged.value = scalarNode, ""
		}
		tagged.plain = false
	}
	// The value starts at its tag.
	tagged.line, tagged.col = line, col
	return &tagged, nil
}

func (c *converter) convertSeq(n *ast.SequenceNode, path string, line, col, depth int) (*node, error) {
	seq := &node{kind: seqNode, line: line, col: col}
	for i, item := range n.Values {
		v, err := c.convert(item, path+"["+strconv.Itoa(i)+"]", depth+1)
		if err != nil {
			return nil, err
		}
		if v.line == 0 {
			// An empty item ("-" alone) has no token of its own.
			v.line, v.col = line, col
		}
		seq.items = append(seq.items, v)
	}
	return seq, nil
}

// convertMap converts a mapping's entries, rejecting duplicate keys and
// applying merge keys ("<<: *defaults"): merged entries never override an
// explicit key, and come after the explicit ones.
func (c *converter) convertMap(entries []*ast.MappingValueNode, path string, line, col, depth int) (*node, error) {
	m := &node{kind: mapNode, line: line, col: col}
	firstLine := map[string]int{}
	var merged []*node
	for _, e := range entries {
		if e.Key != nil && e.Key.IsMergeKey() {
			v, err := c.convert(e.Value, path, depth+1)
			if err != nil {
				return nil, err
			}
			sources, err := c.mergeSources(e, v, path)
			if err != nil {
				return nil, err
			}
			merged = append(merged, sources...)
			continue
		}
		k, err := c.convertKey(e.Key, path, depth)
		if err != nil {
			return nil, err
		}
		field := joinPath(path, k.value)
		if first, dup := firstLine[k.value]; dup {
			return nil, &Error{Pos: Pos{File: c.file, Line: k.line, Col: k.col}, Field: field, Msg: fmt.Sprintf("duplicate key (first set at line %d)", first)}
		}
		firstLine[k.value] = k.line
		v, err := c.convert(e.Value, field, depth+1)
		if err != nil {
			return nil, err
		}
		if v.line == 0 {
			// "key:" with nothing after it: point at the key.
			v.line, v.col = k.line, k.col
		}
		m.keys = append(m.keys, k)
		m.items = append(m.items, v)
	}
	for _, src := range merged {
		for i, k := range src.keys {
			if _, exists := firstLine[k.value]; exists {
				continue
			}
			firstLine[k.value] = k.line
			m.keys = append(m.keys, k)
			m.items = append(m.items, src.items[i])
		}
	}
	if len(m.keys) > 0 && m.line == 0 {
		m.line, m.col = m.keys[0].line, m.keys[0].col
	}
	return m, nil
}

func (c *converter) mergeSources(e *ast.MappingValueNode, v *node, path string) ([]*node, error) {
	switch v.kind {
	case mapNode:
		return []*node{v}, nil
	case seqNode:
		for _, item := range v.items {
			if item.kind != mapNode {
				return nil, c.errAt(e.Key, path, "merge key << expects a mapping or a list of mappings")
			}
		}
		return v.items, nil
	default:
		return nil, c.errAt(e.Key, path, "merge key << expects a mapping or a list of mappings")
	}
}

// convertKey returns a mapping key as a scalar node: perfbench's keys are
// field names, never lists or mappings.
func (c *converter) convertKey(k ast.MapKeyNode, path string, depth int) (*node, error) {
	var inner ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		inner = mk.Value
	}
	if inner == nil {
		return nil, c.errAt(k, path, "mapping key is missing")
	}
	v, err := c.convert(inner, path, depth+1)
	if err != nil {
		return nil, err
	}
	switch v.kind {
	case scalarNode:
	case nullNode:
		// "~: x" or "null: x": the key's own text.
		v.kind, v.value = scalarNode, anchorName(inner)
	default:
		return nil, c.errAt(k, path, "mapping keys must be plain names, found a %s", kindName(v.kind))
	}
	if v.line == 0 {
		v.line, v.col = astPos(k)
	}
	return v, nil
}

func kindName(k nodeKind) string {
	switch k {
	case mapNode:
		return "mapping"
	case seqNode:
		return "list"
	case nullNode:
		return "null"
	default:
		return "scalar"
	}
}

// joinPath appends a key to a dotted field path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
