# shellcheck shell=bash disable=SC2034
# Pinned versions. The Go wrapper modules under tools/cluster/go/ must agree with these
# (k8s: require k8s.io/kubernetes $K8S_VERSION and every staging replace at v0.X.Y).
# v1.34.x: the last minor whose kubelet runs on cgroup v1 without failCgroupV1=false.
# v1.34.10 is the newest 1.34 patch the Go checksum database knew when this was pinned.
K8S_VERSION=v1.34.10
ETCD_VERSION=v3.6.16
# The CoreDNS wrapper module (go/coredns/go.mod) must require the same version.
COREDNS_VERSION=v1.15.0
# containerd 2.x for Kubernetes image volumes (needs >= 2.1; Debian 12 ships 1.6). The wrapper
# module (go/containerd/go.mod) must require the same version.
CONTAINERD_VERSION=v2.4.2
