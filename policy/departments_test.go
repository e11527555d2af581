package policy

import (
	"strings"
	"testing"
)

// TestDepartmentOf: the sender patterns' department (the fallback of the
// city's directory), case-insensitive, first match in file order; a
// department named only by its directory value loads with a warning and
// matches no sender by itself.
func TestDepartmentOf(t *testing.T) {
	y := strings.Replace(string(DefaultYAML()), "\nrules:\n", `
departments:
  - name: 福祉課
    senders: ["user*@city.example.lg.jp"]
    manager: kacho@city.example.lg.jp
  - name: 市民課
    manager: shimin-kacho@city.example.lg.jp
  - name: 全庁
    senders: ["*@city.example.lg.jp"]
    manager: ciso@city.example.lg.jp

rules:
`, 1)
	e, err := Parse([]byte(y), "dept.yaml")
	if err != nil {
		t.Fatal(err)
	}
	warned := false
	for _, w := range e.Warnings() {
		warned = warned || w.Field == "departments[1].senders" && strings.Contains(w.Msg, "directory")
	}
	if !warned {
		t.Errorf("no warning for the department without senders: %v", e.Warnings())
	}
	for _, tc := range []struct{ sender, want string }{
		{"User12@City.Example.LG.JP", "福祉課"},
		{"taro@city.example.lg.jp", "全庁"},
		{"someone@example.com", ""},
	} {
		d, ok := e.DepartmentOf(tc.sender)
		if d.Name != tc.want || ok != (tc.want != "") {
			t.Errorf("DepartmentOf(%q) = %q %v, want %q", tc.sender, d.Name, ok, tc.want)
		}
	}
	if d, ok := e.Department("市民課"); !ok || len(d.Approvers) != 1 {
		t.Errorf("市民課: %+v %v", d, ok)
	}
}
