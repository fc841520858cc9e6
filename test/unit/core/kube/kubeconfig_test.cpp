#include "core/kube/kubeconfig.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "test/support/kube_test_util.hpp"

using namespace kv::core;
using namespace kv::core::kube;
using kv::test::TempDir;
using kv::test::write_file;

namespace {

struct Certs {
  TempDir dir;
  std::string cert, key;
  Certs() {
    kv::test::make_cert(dir.path());
    cert = kv::test::read_text(dir.file("cert.pem"));
    key = kv::test::read_text(dir.file("key.pem"));
  }
};

const Certs& certs() {
  static Certs c;
  return c;
}

std::string kubeconfig(const std::string& users_extra = "", const std::string& current = "main") {
  const auto& c = certs();
  return "apiVersion: v1\nkind: Config\ncurrent-context: " + current +
         "\nclusters:\n"
         "- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n"
         "    certificate-authority-data: " +
         base64_encode(c.cert) +
         "\n"
         "- name: c2\n  cluster:\n    server: https://other:443\n    insecure-skip-tls-verify: "
         "true\n"
         "users:\n"
         "- name: admin\n  user:\n    client-certificate-data: " +
         base64_encode(c.cert) + "\n    client-key-data: " + base64_encode(c.key) +
         "\n"
         "- name: bot\n  user:\n    token: abc123\n" +
         users_extra +
         "contexts:\n"
         "- name: main\n  context: {cluster: c1, user: admin, namespace: team-a}\n"
         "- name: second\n  context: {cluster: c2, user: bot}\n";
}

KubeconfigOptions at_path(const std::string& path, const std::string& context = "") {
  KubeconfigOptions o;
  o.path = path;
  o.context = context;
  return o;
}

KubeconfigOptions from_env(const std::string& env, const std::string& context = "") {
  KubeconfigOptions o;
  o.kubeconfig_env = env;
  o.context = context;
  return o;
}

InClusterOptions in_cluster(const std::string& dir, const std::string& host,
                            const std::string& port) {
  InClusterOptions o;
  o.sa_dir = dir;
  o.host = host;
  o.port = port;
  return o;
}

}  // namespace

TEST_CASE("kubeconfig: the current context's cluster, user and namespace are loaded") {
  TempDir d;
  write_file(d.file("config"), kubeconfig());
  auto c = load_kubeconfig(at_path(d.file("config")));
  REQUIRE(c.ok());
  CHECK(c->server == "https://10.0.0.1:6443");
  CHECK(c->ns == "team-a");
  CHECK(c->context == "main");
  CHECK(c->ca_pem == certs().cert);
  CHECK(c->client_cert_pem == certs().cert);
  CHECK(c->client_key_pem == certs().key);
  CHECK_FALSE(c->insecure_skip_tls_verify);
}

TEST_CASE("kubeconfig: --context selects another context") {
  TempDir d;
  write_file(d.file("config"), kubeconfig());
  auto c = load_kubeconfig(at_path(d.file("config"), "second"));
  REQUIRE(c.ok());
  CHECK(c->server == "https://other:443");
  CHECK(c->insecure_skip_tls_verify);
  CHECK(c->bearer_token == "abc123");
  CHECK(c->ns == "default");

  auto missing = load_kubeconfig(at_path(d.file("config"), "nope"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
  CHECK_THAT(missing.error().message, Catch::Contains("context \"nope\" not found"));
}

TEST_CASE("kubeconfig: KUBECONFIG files merge, the first to define a name wins") {
  TempDir d;
  write_file(d.file("a"),
             "current-context: from-a\n"
             "clusters:\n- name: shared\n  cluster: {server: 'https://a:1'}\n"
             "contexts:\n- name: from-a\n  context: {cluster: shared, user: u}\n");
  write_file(d.file("b"),
             "current-context: from-b\n"
             "clusters:\n- name: shared\n  cluster: {server: 'https://b:2'}\n"
             "- name: only-b\n  cluster: {server: 'https://b:3'}\n"
             "users:\n- name: u\n  user: {token: tok-b}\n"
             "contexts:\n- name: from-b\n  context: {cluster: only-b, user: u}\n");
  std::string env = d.file("a") + ":" + d.file("missing") + ":" + d.file("b");
  auto c = load_kubeconfig(from_env(env));
  REQUIRE(c.ok());
  CHECK(c->context == "from-a");
  CHECK(c->server == "https://a:1");  // "shared" from the first file
  CHECK(c->bearer_token == "tok-b");  // user only in the second file
  auto b = load_kubeconfig(from_env(env, "from-b"));
  REQUIRE(b.ok());
  CHECK(b->server == "https://b:3");

  auto none = load_kubeconfig(from_env(d.file("x") + ":" + d.file("y")));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == Errc::not_found);
  CHECK_THAT(none.error().message, Catch::Contains("none of these files exist"));
}

TEST_CASE("kubeconfig: file references resolve relative to the kubeconfig's directory") {
  TempDir d;
  std::filesystem::create_directories(d.file("sub/pki"));
  write_file(d.file("sub/pki/ca.crt"), certs().cert);
  write_file(d.file("sub/pki/me.crt"), certs().cert);
  write_file(d.file("sub/pki/me.key"), certs().key);
  write_file(d.file("sub/token"), "file-token\n");
  write_file(d.file("sub/config"),
             "current-context: x\n"
             "clusters:\n- name: c\n  cluster: {server: 'https://h:1', certificate-authority: "
             "pki/ca.crt}\n"
             "users:\n- name: u\n  user: {client-certificate: pki/me.crt, client-key: pki/me.key, "
             "tokenFile: token}\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n");
  auto c = load_kubeconfig(at_path(d.file("sub/config")));
  REQUIRE(c.ok());
  CHECK(c->ca_pem == certs().cert);
  CHECK(c->client_key_pem == certs().key);
  CHECK(c->token_file == d.file("sub/token"));
  CredentialSource creds(*c);
  auto cr = creds.get();
  REQUIRE(cr.ok());
  CHECK(cr->bearer_token == "file-token");
}

TEST_CASE("kubeconfig: broken files give errors naming the file and field") {
  TempDir d;
  SECTION("missing file") {
    auto c = load_kubeconfig(at_path(d.file("nope")));
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::not_found);
    CHECK_THAT(c.error().message, Catch::Contains(d.file("nope")));
  }
  SECTION("bad base64") {
    write_file(d.file("config"),
               kubeconfig("- name: broken\n  user:\n    client-certificate-data: 'not*base64'\n"
                          "    client-key-data: AAAA\n",
                          "broken"));
    std::string text = kv::test::read_text(d.file("config"));
    text += "- name: broken\n  context: {cluster: c1, user: broken}\n";
    write_file(d.file("config"), text);
    auto c = load_kubeconfig(at_path(d.file("config")));
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::invalid);
    CHECK_THAT(c.error().message,
               Catch::Contains("users[name=broken].user.client-certificate-data: invalid base64"));
    CHECK_THAT(c.error().message, Catch::Contains(d.file("config")));
  }
  SECTION("CA that is not a certificate") {
    write_file(d.file("config"),
               "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h:1', "
               "certificate-authority-data: " +
                   base64_encode("hello") + "}\ncontexts:\n- name: x\n  context: {cluster: c}\n");
    auto c = load_kubeconfig(at_path(d.file("config")));
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message,
               Catch::Contains("clusters[name=c].cluster.certificate-authority: not a PEM"));
  }
  SECTION("missing CA file") {
    write_file(d.file("config"),
               "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h:1', "
               "certificate-authority: /nonexistent/ca.crt}\ncontexts:\n- name: x\n  context: "
               "{cluster: c}\n");
    auto c = load_kubeconfig(at_path(d.file("config")));
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::not_found);
    CHECK_THAT(c.error().message, Catch::Contains("/nonexistent/ca.crt"));
  }
  SECTION("server without a scheme") {
    write_file(d.file("config"),
               "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'h:1'}\n"
               "contexts:\n- name: x\n  context: {cluster: c}\n");
    auto c = load_kubeconfig(at_path(d.file("config")));
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::Contains(".server: \"h:1\" must start with https://"));
  }
  SECTION("context naming an unknown user") {
    write_file(d.file("config"),
               "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h:1'}\n"
               "contexts:\n- name: x\n  context: {cluster: c, user: ghost}\n");
    auto c = load_kubeconfig(at_path(d.file("config")));
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::Contains("\"ghost\" is not among the users"));
  }
}

TEST_CASE("token files are re-read when they change (rotated service-account tokens)") {
  TempDir d;
  write_file(d.file("token"), "first\n");
  RestConfig c;
  c.server = "https://h:1";
  c.token_file = d.file("token");
  CredentialSource creds(c);
  REQUIRE(creds.get()->bearer_token == "first");
  // Rotation as the kubelet does it: a new file renamed over the old one.
  write_file(d.file("token.new"), "second-token\n");
  std::filesystem::rename(d.file("token.new"), d.file("token"));
  CHECK(creds.get()->bearer_token == "second-token");
}

TEST_CASE("exec credential plugins: run, parse, cache until expiry") {
  TempDir d;
  std::string counter = d.file("runs");
  auto plugin = [&](const std::string& api, const std::string& expiry) {
    std::string script =
        "#!/bin/sh\necho run >> '" + counter +
        "'\n"
        "case \"$KUBERNETES_EXEC_INFO\" in *ExecCredential*) ;; *) exit 9;; esac\n"
        "cat <<EOF\n{\"apiVersion\":\"" +
        api + "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-$MY_VAR\"" +
        (expiry.empty() ? "" : ",\"expirationTimestamp\":\"" + expiry + "\"") + "}}\nEOF\n";
    write_file(d.file("plugin.sh"), script);
    ::chmod(d.file("plugin.sh").c_str(), 0755);
  };
  auto runs = [&] {
    std::string t = kv::test::read_text(counter);
    return std::count(t.begin(), t.end(), '\n');
  };
  auto config = [&](const std::string& api) {
    RestConfig c;
    c.server = "https://h:1";
    ExecConfig e;
    e.command = d.file("plugin.sh");
    e.api_version = api;
    e.env = {{"MY_VAR", "x1"}};
    c.exec = e;
    return c;
  };

  SECTION("a token valid for an hour is reused") {
    plugin("client.authentication.k8s.io/v1",
           format_rfc3339(std::chrono::system_clock::now() + std::chrono::hours(1)));
    CredentialSource creds(config("client.authentication.k8s.io/v1"));
    REQUIRE(creds.get().ok());
    auto second = creds.get();
    REQUIRE(second.ok());
    CHECK(second->bearer_token == "tok-x1");
    CHECK(runs() == 1);
    creds.invalidate();  // as after a 401
    REQUIRE(creds.get().ok());
    CHECK(runs() == 2);
  }
  SECTION("an expired token is fetched again; v1beta1 works too") {
    plugin("client.authentication.k8s.io/v1beta1", "2001-01-01T00:00:00Z");
    CredentialSource creds(config("client.authentication.k8s.io/v1beta1"));
    REQUIRE(creds.get().ok());
    REQUIRE(creds.get().ok());
    CHECK(runs() == 2);
  }
  SECTION("a failing plugin reports its status and stderr") {
    write_file(d.file("plugin.sh"), "#!/bin/sh\necho 'login required' >&2\nexit 3\n");
    ::chmod(d.file("plugin.sh").c_str(), 0755);
    CredentialSource creds(config("client.authentication.k8s.io/v1"));
    auto r = creds.get();
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("exited with status 3"));
    CHECK_THAT(r.error().message, Catch::Contains("login required"));
  }
  SECTION("output of the wrong apiVersion is rejected") {
    plugin("client.authentication.k8s.io/v1beta1", "");
    CredentialSource creds(config("client.authentication.k8s.io/v1"));
    auto r = creds.get();
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("does not match"));
  }
}

TEST_CASE("kubeconfig: exec section is parsed and validated") {
  std::string base =
      "current-context: x\nclusters:\n- name: c\n  cluster: {server: 'https://h:1'}\n"
      "contexts:\n- name: x\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user:\n"
      "    exec:\n";
  auto ok = kubeconfig_from_yaml(base +
                                     "      apiVersion: client.authentication.k8s.io/v1\n"
                                     "      command: ./bin/get-token\n      args: [--a, b]\n"
                                     "      env: [{name: K, value: V}]\n",
                                 "", "cfg", "/base");
  REQUIRE(ok.ok());
  REQUIRE(ok->exec);
  CHECK(ok->exec->command == "./bin/get-token");
  CHECK(ok->exec->args == std::vector<std::string>{"--a", "b"});
  CHECK(ok->exec->base_dir == "/base");
  auto bad = kubeconfig_from_yaml(
      base + "      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: x\n", "",
      "cfg", "/base");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("users[name=u].user.exec.apiVersion"));
}

TEST_CASE("in-cluster config reads the service account and the service env") {
  TempDir d;
  write_file(d.file("token"), "sa-token");
  write_file(d.file("ca.crt"), certs().cert);
  write_file(d.file("namespace"), "kubevirt\n");
  auto c = in_cluster_config(in_cluster(d.path(), "10.96.0.1", "443"));
  REQUIRE(c.ok());
  CHECK(c->server == "https://10.96.0.1:443");
  CHECK(c->ns == "kubevirt");
  CHECK(c->ca_pem == certs().cert);
  CredentialSource creds(*c);
  CHECK(creds.get()->bearer_token == "sa-token");

  auto v6 = in_cluster_config(in_cluster(d.path(), "fd00::1", "443"));
  REQUIRE(v6.ok());
  CHECK(v6->server == "https://[fd00::1]:443");

  auto outside = in_cluster_config(in_cluster(d.path(), "", ""));
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().code == Errc::not_found);
}
