package providers

import (
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// diffInputs compares old and new inputs key by key. A changed key whose
// name is in replaceOn forces replacement; every other changed key is an
// in-place update. Secret wrappers are ignored (a value that merely became
// secret is not a change); unknown new values always count as changes, as
// the real providers treat them during previews and dependent-replacement
// checks. Missing, null and empty values are equivalent.
func diffInputs(olds, news resource.PropertyMap, replaceOn map[string]bool, dbr bool) plugin.DiffResult {
	keys := keyUnion(olds, news)
	detailed := map[string]plugin.PropertyDiff{}
	var changed, replaced []resource.PropertyKey
	for k := range keys {
		if internalKey(k) {
			continue
		}
		o, n := olds[k], news[k]
		if equalValues(o, n) {
			continue
		}
		changed = append(changed, k)
		if replaceOn[string(k)] {
			replaced = append(replaced, k)
		}
		detailed[string(k)] = plugin.PropertyDiff{Kind: diffKind(o, n, replaceOn[string(k)]), InputDiff: true}
	}
	sortKeys(changed)
	sortKeys(replaced)
	if len(changed) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	return plugin.DiffResult{
		Changes:             plugin.DiffSome,
		ChangedKeys:         changed,
		ReplaceKeys:         replaced,
		DetailedDiff:        detailed,
		DeleteBeforeReplace: dbr && len(replaced) > 0,
	}
}

func sortKeys(ks []resource.PropertyKey) {
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
}

// plainValue strips secret and known-output wrappers.
func plainValue(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput() && v.OutputValue().Known:
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

func isUnknown(v resource.PropertyValue) bool {
	v = plainValue(v)
	return v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known)
}

func isEmpty(v resource.PropertyValue) bool {
	v = plainValue(v)
	switch {
	case v.V == nil:
		return true
	case v.IsArray():
		return len(v.ArrayValue()) == 0
	case v.IsObject():
		return len(v.ObjectValue()) == 0
	}
	return false
}

func equalValues(a, b resource.PropertyValue) bool {
	if isUnknown(a) || isUnknown(b) {
		return false
	}
	a, b = plainValue(a), plainValue(b)
	if isEmpty(a) || isEmpty(b) {
		return isEmpty(a) && isEmpty(b)
	}
	switch {
	case a.IsArray() && b.IsArray():
		x, y := a.ArrayValue(), b.ArrayValue()
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case a.IsObject() && b.IsObject():
		x, y := a.ObjectValue(), b.ObjectValue()
		for k := range x {
			if !internalKey(k) && !equalValues(x[k], y[k]) {
				return false
			}
		}
		for k := range y {
			if _, ok := x[k]; !ok && !internalKey(k) && !isEmpty(y[k]) {
				return false
			}
		}
		return true
	default:
		return a.DeepEquals(b)
	}
}

// stringOf returns the plain string at key k, or "" when it is absent,
// unknown or not a string.
func stringOf(m resource.PropertyMap, k resource.PropertyKey) string {
	v := plainValue(m[k])
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// boolOf returns the plain bool at key k, or def when it is absent.
func boolOf(m resource.PropertyMap, k resource.PropertyKey, def bool) bool {
	v := plainValue(m[k])
	if v.IsBool() {
		return v.BoolValue()
	}
	return def
}

// diffKind is how a detailed diff reports a key that changed from o to n:
// added, deleted or updated, as a replacement when replace is set.
func diffKind(o, n resource.PropertyValue, replace bool) plugin.DiffKind {
	kind := plugin.DiffUpdate
	switch {
	case isEmpty(o):
		kind = plugin.DiffAdd
	case isEmpty(n):
		kind = plugin.DiffDelete
	}
	if replace {
		kind = kind.AsReplace()
	}
	return kind
}

// keyUnion is the set of keys of a and b.
func keyUnion(a, b resource.PropertyMap) map[resource.PropertyKey]bool {
	keys := map[resource.PropertyKey]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}
