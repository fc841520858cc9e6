//go:build tools

// Keeps containerd's daemon and runc shim packages in the module graph for `go mod tidy`.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
)
