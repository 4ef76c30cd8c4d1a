// pulumi-resource-kubernetes, built by `make pulumi-kubernetes` (tools/pulumi-kubernetes/build.sh).
//
// The provider module's own main package embeds two generated files that are not in the module
// (schema-embed.json, terraform-mapping-embed.json), so it cannot be built from the module proxy.
// This is the same few lines: build.sh copies the module's schema.json (with the release's version
// set) and terraform-mapping.json next to this file in a scratch copy, then builds that copy.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
