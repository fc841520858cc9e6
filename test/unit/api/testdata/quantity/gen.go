// Generates vectors.tsv: the reference behaviour of Kubernetes' resource.ParseQuantity
// (k8s.io/apimachinery, the version pinned in go.mod), read by test/unit/api/quantity_test.cpp.
// For each line of stdin (one input) it prints the Go-quoted input, then "error", or "ok" with
// String(), Value() and MilliValue(), tab-separated. Regenerate after editing inputs.txt:
//
//	cd test/unit/api/testdata/quantity
//	GOFLAGS=-mod=mod GOMODCACHE=$HOME/.cache/kubevirt-cpp/go/mod go run . <inputs.txt >vectors.tsv
package main

import (
	"bufio"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Generates quantity_vectors.tsv: the reference behaviour of Kubernetes resource.ParseQuantity.
// Reads one input per line (a Go-quoted string); prints the input, then "error", or "ok" with
// String(), Value() and MilliValue(). Regenerate (needs Go and the module cache tools/cluster fills):
//
//	cd test/unit/api/testdata/quantity && GOFLAGS=-mod=mod GOPROXY=off \
//	  GOMODCACHE=$HOME/.cache/kubevirt-cpp/go/mod go run . <inputs.txt >vectors.tsv
func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		in := sc.Text()
		q, err := resource.ParseQuantity(in)
		if err != nil {
			fmt.Printf("%q\terror\n", in)
			continue
		}
		fmt.Printf("%q\tok\t%s\t%d\t%d\n", in, q.String(), q.Value(), q.MilliValue())
	}
}
