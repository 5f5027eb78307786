package components_test

import "github.com/pulumi/pulumi/sdk/v3/go/common/resource"

type resourceKey = resource.PropertyKey
