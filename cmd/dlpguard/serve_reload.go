package main

import (
	"reflect"
	"strings"
)

// changedSettings names the settings of section (a struct of package
// config, given as old and new value) whose values differ, as the file
// spells them ("upstream.connect_timeout"). It is derived from the
// struct's yaml tags, so a setting added later is compared without
// anyone remembering to list it; a reload logs these as needing a restart.
func changedSettings(section string, old, cur any) []string {
	a, b := reflect.ValueOf(old), reflect.ValueOf(cur)
	if a.Type() != b.Type() || a.Kind() != reflect.Struct {
		return []string{section}
	}
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() || reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, section+"."+name)
	}
	return out
}
