package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// exampleOmits are the settings example.yaml leaves out on purpose, each
// with the reason; everything else the Config struct reads must be shown.
var exampleOmits = map[string]string{
	"upstream.password": "a clear password in the file is discouraged: password_file is shown",
	"storage.dsn":       "a password in the file is discouraged: dsn_file is shown",
	"storage.dsn_file":  "for driver postgres; shown commented out beside driver: sqlite",
}

// TestExampleShowsEverySetting checks that config/example.yaml, which the
// README calls complete, shows every section and setting of Config
// (derived from the struct's yaml tags, so a new setting without an
// example fails here) and parses without error.
func TestExampleShowsEverySetting(t *testing.T) {
	b, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b, Default()); err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	var missing []string
	var walk func(prefix string, typ reflect.Type, n *yaml.Node)
	walk = func(prefix string, typ reflect.Type, n *yaml.Node) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			path := strings.TrimPrefix(prefix+"."+name, ".")
			if _, ok := exampleOmits[path]; ok {
				continue
			}
			v := mappingValue(n, name)
			if v == nil {
				missing = append(missing, path)
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
				walk(path+"[0]", ft.Elem(), v.Content[0])
			} else if ft.Kind() == reflect.Struct && ft.NumField() > 0 && v.Kind == yaml.MappingNode && len(v.Content) > 0 {
				// An empty mapping ({}) keeps every default; its comment
				// lists the keys (directory.attributes).
				walk(path, ft, v)
			}
		}
	}
	walk("", reflect.TypeFor[Config](), root.Content[0])
	if len(missing) > 0 {
		t.Errorf("example.yaml does not show %d settings:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
