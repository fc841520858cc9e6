// CoreDNS with only the plugins the local cluster's Corefile uses (tools/cluster/lib/dns.sh).
// Upstream's own main imports core/plugin, which links every plugin (cloud DNS providers,
// etcd, dnstap...); a program that imports coremain and the plugins it wants, and sets the
// directive list, is CoreDNS's documented way to build a smaller plugin set without
// regenerating its source tree.
package main

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// In the order of upstream's plugin.cfg: that order, not the Corefile's, is the order in
// which the plugins see a query.
var directives = []string{"reload", "ready", "health", "errors", "log", "cache", "kubernetes", "loop", "forward"}

func main() {
	if err := dnsserver.SetDirectives(directives); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coremain.Run()
}
