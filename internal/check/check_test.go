package check

import "testing"

func TestValidators(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func(string) bool
		ok   []string
		bad  []string
	}{
		{"DNSLabel", DNSLabel, []string{"rocket-1", "a", "0x"}, []string{"", "Rocket", "-a", "a-", "a_b", "a.b", string(make([]byte, 64))}},
		{"HostName", HostName, []string{"db.example.com", "rocket-1", "A1"}, []string{"", "10.0.0.1", "1.2", "a..b", "-a.b", "host name", "a_b"}},
		{"Host", Host, []string{"10.0.0.1", "fd00::1", "db.example.com"}, []string{"", "10.0.0.300", "host name!"}},
		{"ReplicaSetName", ReplicaSetName, []string{"rs0", "my_set-1"}, []string{"", "rs 0", "rs/0"}},
		{"NginxSize", NginxSize, []string{"0", "512k", "200M", "1g"}, []string{"", "200MB", "-1", "1.5M"}},
	} {
		for _, s := range c.ok {
			if !c.fn(s) {
				t.Errorf("%s(%q) = false, want true", c.name, s)
			}
		}
		for _, s := range c.bad {
			if c.fn(s) {
				t.Errorf("%s(%q) = true, want false", c.name, s)
			}
		}
	}
}
