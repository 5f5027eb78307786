// Package check holds the validators that the component and the stack
// config share, one home for each: DNS labels, host names, replica-set
// names and nginx sizes.
package check

import (
	"net"
	"regexp"
)

var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	hostName  = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)
	allDigits = regexp.MustCompile(`^[0-9.]+$`)
	replSet   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	nginxSize = regexp.MustCompile(`^[0-9]+[kKmMgG]?$`)
)

// DNSLabel reports whether s is a lower-case DNS label: letters, digits and
// '-', 1 to 63 characters, not starting or ending with '-'.
func DNSLabel(s string) bool { return dnsLabel.MatchString(s) }

// HostName reports whether s is an RFC 1123 host name (at most 253
// characters) that cannot be mistaken for an IPv4 address.
func HostName(s string) bool {
	return len(s) <= 253 && hostName.MatchString(s) && !allDigits.MatchString(s)
}

// Host reports whether s is an IP address or a host name.
func Host(s string) bool { return net.ParseIP(s) != nil || HostName(s) }

// ReplicaSetName reports whether s is a replica-set name the component
// accepts: 1 to 64 letters, digits, '-' or '_'.
func ReplicaSetName(s string) bool { return replSet.MatchString(s) }

// NginxSize reports whether s is an nginx size such as 0, 512k or 200M.
func NginxSize(s string) bool { return nginxSize.MatchString(s) }
