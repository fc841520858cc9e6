#include "core/kube/kubeconfig.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json.hpp"
#include "core/process.hpp"
#include "core/yaml.hpp"

extern char** environ;

namespace kv::core::kube {

namespace {

Result<std::string> read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return errno_error(what + ": cannot read " + path, err)
        .with("path", path)
        .with("code", err == ENOENT ? "not_found" : "io");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// read_file with ENOENT mapped to Errc::not_found.
Result<std::string> read_named_file(const std::string& path, const std::string& what) {
  auto r = read_file(path, what);
  if (!r.ok()) {
    Error e = r.error();
    if (e.get("code") == "not_found")
      e.code = Errc::not_found;
    return e;
  }
  return r;
}

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0)
    return "no details from OpenSSL";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string resolve_path(const std::string& p, const std::string& base_dir) {
  if (p.empty() || p[0] == '/' || base_dir.empty())
    return p;
  if (p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") + p.substr(1);
  }
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

// One named entry (cluster, user or context) of a kubeconfig, with where it came from.
struct Entry {
  json::Document value;  // the inner object ("cluster", "user", "context")
  std::string file;
  std::string base_dir;
  std::string field;  // "users[name=admin].user": prefix for error messages
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::vector<std::string> files;
};

Status merge_file(Merged& m, std::string_view text, const std::string& file,
                  const std::string& base_dir) {
  auto docs = yaml::to_json(text);
  if (!docs.ok())
    return Error(Errc::parse, file + ": " + docs.error().message);
  m.files.push_back(file);
  if (docs->empty())
    return {};
  const json::Value& root = (*docs)[0];
  if (!root.IsObject())
    return Error(Errc::invalid, file + ": a kubeconfig must be a YAML mapping");
  if (auto cc = json::get_string(root, "current-context"); cc && m.current_context.empty())
    m.current_context = std::string(*cc);
  struct Section {
    const char* list;
    const char* inner;
    std::map<std::string, Entry>* into;
  };
  for (Section s : {Section{"clusters", "cluster", &m.clusters}, Section{"users", "user", &m.users},
                    Section{"contexts", "context", &m.contexts}}) {
    const json::Value* arr = json::find(root, s.list);
    if (!arr || arr->IsNull())
      continue;
    if (!arr->IsArray())
      return Error(Errc::invalid, file + ": " + s.list + ": must be a list, got " +
                                      std::string(json::type_name(*arr)));
    for (rapidjson::SizeType i = 0; i < arr->Size(); ++i) {
      const json::Value& item = (*arr)[i];
      auto name = json::get_string(item, "name");
      if (!name || name->empty())
        return Error(Errc::invalid, file + ": " + s.list + "[" + std::to_string(i) +
                                        "].name: required, must be a non-empty string");
      if (s.into->count(std::string(*name)))
        continue;  // the first file to define a name wins, as kubectl merges
      Entry e;
      e.file = file;
      e.base_dir = base_dir;
      e.field = std::string(s.list) + "[name=" + std::string(*name) + "]." + s.inner;
      const json::Value* inner = json::find(item, s.inner);
      if (inner && inner->IsObject())
        e.value.CopyFrom(*inner, e.value.GetAllocator());
      else
        e.value.SetObject();
      s.into->emplace(std::string(*name), std::move(e));
    }
  }
  return {};
}

Result<std::string> opt_string(const Entry& e, const char* key) {
  const json::Value* v = json::find(e.value, key);
  if (!v || v->IsNull())
    return std::string();
  if (!v->IsString())
    return Error(Errc::invalid, e.file + ": " + e.field + "." + key + ": must be a string, got " +
                                    std::string(json::type_name(*v)));
  return std::string(v->GetString(), v->GetStringLength());
}

// Reads "<key>-data" (base64) or "<key>" (a path relative to the defining file).
Result<std::string> data_or_file(const Entry& e, const std::string& key, const std::string& what) {
  auto data = opt_string(e, (key + "-data").c_str());
  if (!data.ok())
    return data.error();
  if (!data->empty()) {
    auto dec = base64_decode(*data);
    if (!dec.ok())
      return Error(Errc::invalid,
                   e.file + ": " + e.field + "." + key + "-data: " + dec.error().message);
    return *dec;
  }
  auto path = opt_string(e, key.c_str());
  if (!path.ok())
    return path.error();
  if (path->empty())
    return std::string();
  std::string full = resolve_path(*path, e.base_dir);
  auto text = read_named_file(full, e.file + ": " + e.field + "." + key + " (" + what + ")");
  if (!text.ok())
    return text.error();
  return *text;
}

Result<RestConfig> resolve(const Merged& m, const std::string& context_override) {
  std::string files;
  for (const auto& f : m.files)
    files += (files.empty() ? "" : ", ") + f;
  RestConfig c;
  std::string ctx_name = context_override.empty() ? m.current_context : context_override;
  if (ctx_name.empty())
    return Error(Errc::invalid,
                 "kubeconfig " + files + ": no current-context is set; pass a context name");
  auto ctx = m.contexts.find(ctx_name);
  if (ctx == m.contexts.end())
    return Error(Errc::not_found,
                 "kubeconfig " + files + ": context \"" + ctx_name + "\" not found")
        .with("context", ctx_name);
  c.context = ctx_name;
  auto cluster_name = opt_string(ctx->second, "cluster");
  auto user_name = opt_string(ctx->second, "user");
  auto ns = opt_string(ctx->second, "namespace");
  if (!cluster_name.ok())
    return cluster_name.error();
  if (!user_name.ok())
    return user_name.error();
  if (!ns.ok())
    return ns.error();
  if (!ns->empty())
    c.ns = *ns;
  auto cl = m.clusters.find(*cluster_name);
  if (cl == m.clusters.end())
    return Error(Errc::not_found, ctx->second.file + ": " + ctx->second.field + ".cluster: \"" +
                                      *cluster_name + "\" is not among the clusters of " + files);
  const Entry& ce = cl->second;
  auto server = opt_string(ce, "server");
  if (!server.ok())
    return server.error();
  if (server->empty())
    return Error(Errc::invalid, ce.file + ": " + ce.field + ".server: required");
  if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0)
    return Error(Errc::invalid, ce.file + ": " + ce.field + ".server: \"" + *server +
                                    "\" must start with https:// or http://");
  c.server = *server;
  while (!c.server.empty() && c.server.back() == '/')
    c.server.pop_back();
  auto tsn = opt_string(ce, "tls-server-name");
  if (!tsn.ok())
    return tsn.error();
  c.server_name = *tsn;
  if (const json::Value* v = json::find(ce.value, "insecure-skip-tls-verify"); v && !v->IsNull()) {
    if (!v->IsBool())
      return Error(Errc::invalid,
                   ce.file + ": " + ce.field + ".insecure-skip-tls-verify: must be true or false");
    c.insecure_skip_tls_verify = v->GetBool();
  }
  auto ca = data_or_file(ce, "certificate-authority", "CA certificate");
  if (!ca.ok())
    return ca.error();
  if (!ca->empty()) {
    auto checked = check_pem_certs(*ca, ce.file + ": " + ce.field + ".certificate-authority");
    if (!checked.ok())
      return checked.error();
    c.ca_pem = std::move(*checked);
  }

  if (user_name->empty())
    return c;  // anonymous
  auto us = m.users.find(*user_name);
  if (us == m.users.end())
    return Error(Errc::not_found, ctx->second.file + ": " + ctx->second.field + ".user: \"" +
                                      *user_name + "\" is not among the users of " + files);
  const Entry& ue = us->second;
  auto cert = data_or_file(ue, "client-certificate", "client certificate");
  if (!cert.ok())
    return cert.error();
  auto key = data_or_file(ue, "client-key", "client key");
  if (!key.ok())
    return key.error();
  if (cert->empty() != key->empty())
    return Error(Errc::invalid, ue.file + ": " + ue.field +
                                    ": client-certificate and client-key must be set together");
  if (!cert->empty()) {
    auto cc = check_pem_certs(*cert, ue.file + ": " + ue.field + ".client-certificate");
    if (!cc.ok())
      return cc.error();
    auto kk = check_pem_key(*key, ue.file + ": " + ue.field + ".client-key");
    if (!kk.ok())
      return kk.error();
    c.client_cert_pem = std::move(*cc);
    c.client_key_pem = std::move(*kk);
  }
  auto token = opt_string(ue, "token");
  if (!token.ok())
    return token.error();
  c.bearer_token = *token;
  auto token_file = opt_string(ue, "tokenFile");
  if (!token_file.ok())
    return token_file.error();
  if (!token_file->empty()) {
    c.token_file = resolve_path(*token_file, ue.base_dir);
    auto t = read_named_file(c.token_file, ue.file + ": " + ue.field + ".tokenFile");
    if (!t.ok())
      return t.error();
  }
  auto username = opt_string(ue, "username");
  auto password = opt_string(ue, "password");
  if (!username.ok())
    return username.error();
  if (!password.ok())
    return password.error();
  c.username = *username;
  c.password = *password;

  if (const json::Value* ex = json::find(ue.value, "exec"); ex && !ex->IsNull()) {
    std::string f = ue.file + ": " + ue.field + ".exec";
    if (!ex->IsObject())
      return Error(Errc::invalid, f + ": must be a mapping");
    ExecConfig e;
    e.base_dir = ue.base_dir;
    auto cmd = json::get_string(*ex, "command");
    if (!cmd || cmd->empty())
      return Error(Errc::invalid, f + ".command: required");
    e.command = std::string(*cmd);
    if (auto av = json::get_string(*ex, "apiVersion"))
      e.api_version = std::string(*av);
    if (e.api_version != "client.authentication.k8s.io/v1" &&
        e.api_version != "client.authentication.k8s.io/v1beta1")
      return Error(Errc::invalid, f + ".apiVersion: \"" + e.api_version +
                                      "\" is not supported; use client.authentication.k8s.io/v1 "
                                      "or client.authentication.k8s.io/v1beta1");
    if (auto h = json::get_string(*ex, "installHint"))
      e.install_hint = std::string(*h);
    if (const json::Value* args = json::find(*ex, "args"); args && args->IsArray()) {
      for (const auto& a : args->GetArray()) {
        if (!a.IsString())
          return Error(Errc::invalid, f + ".args: every item must be a string");
        e.args.emplace_back(a.GetString(), a.GetStringLength());
      }
    }
    if (const json::Value* env = json::find(*ex, "env"); env && env->IsArray()) {
      for (const auto& kvp : env->GetArray()) {
        auto n = json::get_string(kvp, "name");
        auto v = json::get_string(kvp, "value");
        if (!n || !v)
          return Error(Errc::invalid, f + ".env: every item needs a string name and value");
        e.env.emplace_back(std::string(*n), std::string(*v));
      }
    }
    c.exec = std::move(e);
  }
  return c;
}

std::vector<std::string> split_paths(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == ':') {
      if (!cur.empty())
        out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty())
    out.push_back(cur);
  return out;
}

std::string dir_of(const std::string& path) {
  auto p = std::filesystem::absolute(path).parent_path();
  return p.string();
}

}  // namespace

Result<RestConfig> kubeconfig_from_yaml(std::string_view yaml_text, const std::string& context,
                                        const std::string& source_name,
                                        const std::string& base_dir) {
  Merged m;
  KV_CHECK(merge_file(m, yaml_text, source_name, base_dir));
  return resolve(m, context);
}

Result<RestConfig> load_kubeconfig(const KubeconfigOptions& opts) {
  Merged m;
  if (!opts.path.empty()) {
    auto text = read_named_file(opts.path, "kubeconfig");
    if (!text.ok())
      return text.error();
    KV_CHECK(merge_file(m, *text, opts.path, dir_of(opts.path)));
    return resolve(m, opts.context);
  }
  std::string env;
  if (opts.kubeconfig_env)
    env = *opts.kubeconfig_env;
  else if (const char* e = std::getenv("KUBECONFIG"))
    env = e;
  if (!env.empty()) {
    auto paths = split_paths(env);
    for (const auto& p : paths) {
      auto text = read_file(p, "kubeconfig");
      if (!text.ok()) {
        if (text.error().get("code") == "not_found")
          continue;  // kubectl skips missing entries of $KUBECONFIG
        return text.error();
      }
      KV_CHECK(merge_file(m, *text, p, dir_of(p)));
    }
    if (m.files.empty())
      return Error(Errc::not_found, "KUBECONFIG=" + env + ": none of these files exist")
          .with("KUBECONFIG", env);
    return resolve(m, opts.context);
  }
  std::string home;
  if (opts.home)
    home = *opts.home;
  else if (const char* h = std::getenv("HOME"))
    home = h;
  std::string path = home + "/.kube/config";
  auto text = read_named_file(path, "kubeconfig");
  if (!text.ok())
    return text.error();
  KV_CHECK(merge_file(m, *text, path, dir_of(path)));
  return resolve(m, opts.context);
}

Result<RestConfig> in_cluster_config(const InClusterOptions& opts) {
  std::string host, port;
  if (opts.host)
    host = *opts.host;
  else if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST"))
    host = h;
  if (opts.port)
    port = *opts.port;
  else if (const char* p = std::getenv("KUBERNETES_SERVICE_PORT"))
    port = p;
  if (host.empty() || port.empty())
    return Error(Errc::not_found,
                 "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                 "must both be set");
  RestConfig c;
  // IPv6 literals need brackets in a URL.
  c.server =
      "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  c.token_file = opts.sa_dir + "/token";
  auto token = read_named_file(c.token_file, "in-cluster service-account token");
  if (!token.ok())
    return token.error();
  auto ca = read_named_file(opts.sa_dir + "/ca.crt", "in-cluster CA");
  if (!ca.ok())
    return ca.error();
  auto checked = check_pem_certs(*ca, opts.sa_dir + "/ca.crt");
  if (!checked.ok())
    return checked.error();
  c.ca_pem = std::move(*checked);
  if (auto ns = read_file(opts.sa_dir + "/namespace", "namespace"); ns.ok() && !ns->empty()) {
    std::string n = *ns;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' '))
      n.pop_back();
    c.ns = n;
  }
  return c;
}

Result<RestConfig> load_default(const KubeconfigOptions& opts) {
  if (!opts.path.empty())
    return load_kubeconfig(opts);
  std::string env;
  if (opts.kubeconfig_env)
    env = *opts.kubeconfig_env;
  else if (const char* e = std::getenv("KUBECONFIG"))
    env = e;
  if (env.empty() && std::getenv("KUBERNETES_SERVICE_HOST") != nullptr)
    return in_cluster_config();
  return load_kubeconfig(opts);
}

// --- credentials ---

CredentialSource::CredentialSource(RestConfig config) : config_(std::move(config)) {
  cached_.bearer_token = config_.bearer_token;
  cached_.client_cert_pem = config_.client_cert_pem;
  cached_.client_key_pem = config_.client_key_pem;
  if (!config_.username.empty() || !config_.password.empty())
    cached_.basic_auth = config_.username + ":" + config_.password;
}

Status CredentialSource::refresh_token_file_locked() {
  struct stat st {};
  if (::stat(config_.token_file.c_str(), &st) != 0)
    return errno_error("token file " + config_.token_file, errno).with("path", config_.token_file);
  std::tuple<unsigned long, long long, long long> stamp{
      static_cast<unsigned long>(st.st_ino),
      static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
      static_cast<long long>(st.st_size)};
  if (stamp == token_stamp_)
    return {};
  auto text = read_file(config_.token_file, "token file");
  if (!text.ok())
    return text.error();
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' '))
    t.pop_back();
  cached_.bearer_token = t;
  token_stamp_ = stamp;
  return {};
}

namespace {

struct ExecOutput {
  int status = -1;
  std::string out, err;
};

// Runs argv with extra environment; stdin is /dev/null. Kills the child after `timeout`.
Result<ExecOutput> run_command(const std::vector<std::string>& argv,
                               const std::vector<std::pair<std::string, std::string>>& extra_env,
                               std::chrono::seconds timeout) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    return errno_error("pipe", errno);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return errno_error("pipe", e);
  }
  process::ExecSpec spec;
  spec.argv = argv;
  spec.env = process::environment_with(extra_env);
  spec.stdout_fd = out_pipe[1];
  spec.stderr_fd = err_pipe[1];
  auto pid = process::fork_exec(spec);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (!pid.ok()) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return pid.error();
  }
  ExecOutput res;
  const bool timed_out = !process::read_to_end(out_pipe[0], err_pipe[0], res.out, res.err,
                                               std::chrono::steady_clock::now() + timeout)
                              .ok();
  if (timed_out)
    ::kill(*pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(*pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return Error(Errc::timeout, "exec credential plugin " + argv[0] + " did not finish within " +
                                    std::to_string(timeout.count()) + "s");
  res.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return res;
}

}  // namespace

Status CredentialSource::run_exec_locked() {
  const ExecConfig& e = *config_.exec;
  std::string cmd = e.command;
  if (cmd.find('/') != std::string::npos && cmd[0] != '/')
    cmd = resolve_path(cmd, e.base_dir);
  std::vector<std::string> argv{cmd};
  argv.insert(argv.end(), e.args.begin(), e.args.end());
  auto env = e.env;
  env.emplace_back("KUBERNETES_EXEC_INFO", "{\"apiVersion\":\"" + e.api_version +
                                               "\",\"kind\":\"ExecCredential\",\"spec\":{"
                                               "\"interactive\":false}}");
  auto out = run_command(argv, env, std::chrono::seconds(60));
  if (!out.ok())
    return out.error();
  std::string what = "exec credential plugin \"" + e.command + "\"";
  if (out->status != 0) {
    std::string msg = what + " exited with status " + std::to_string(out->status);
    if (!out->err.empty())
      msg += ": " + out->err.substr(0, 1000);
    if (out->status == 127 && !e.install_hint.empty())
      msg += "; " + e.install_hint;
    return Error(Errc::unauthorized, msg).with("exit_status", std::to_string(out->status));
  }
  auto doc = json::parse(out->out);
  if (!doc.ok())
    return Error(Errc::parse, what + " printed invalid JSON: " + doc.error().message);
  auto kind = json::get_string(*doc, "kind");
  auto api = json::get_string(*doc, "apiVersion");
  if (!kind || *kind != "ExecCredential")
    return Error(Errc::parse, what + ": output kind must be ExecCredential");
  if (!api || *api != e.api_version)
    return Error(Errc::parse, what + ": output apiVersion \"" + std::string(api.value_or("")) +
                                  "\" does not match the requested " + e.api_version);
  const json::Value* status = json::find(*doc, "status");
  if (!status || !status->IsObject())
    return Error(Errc::parse, what + ": output has no status");
  Credentials c = cached_;
  c.bearer_token = std::string(json::get_string(*status, "token").value_or(""));
  c.client_cert_pem = std::string(json::get_string(*status, "clientCertificateData").value_or(""));
  c.client_key_pem = std::string(json::get_string(*status, "clientKeyData").value_or(""));
  if (c.bearer_token.empty() && c.client_cert_pem.empty())
    return Error(Errc::parse,
                 what + ": status must have a token or clientCertificateData and clientKeyData");
  if (c.client_cert_pem.empty() != c.client_key_pem.empty())
    return Error(Errc::parse,
                 what + ": status.clientCertificateData and clientKeyData must be set together");
  exec_expiry_.reset();
  if (auto exp = json::get_string(*status, "expirationTimestamp"); exp && !exp->empty()) {
    auto t = parse_rfc3339(*exp);
    if (!t.ok())
      return Error(Errc::parse, what + ": status.expirationTimestamp: " + t.error().message);
    exec_expiry_ = *t;
  }
  cached_ = std::move(c);
  exec_valid_ = true;
  return {};
}

Result<Credentials> CredentialSource::get() {
  std::lock_guard lock(mu_);
  if (config_.exec) {
    bool expired = exec_expiry_ && std::chrono::system_clock::now() >= *exec_expiry_;
    if (!exec_valid_ || expired)
      KV_CHECK(run_exec_locked());
  } else if (!config_.token_file.empty()) {
    KV_CHECK(refresh_token_file_locked());
  }
  return cached_;
}

void CredentialSource::invalidate() {
  std::lock_guard lock(mu_);
  exec_valid_ = false;
  token_stamp_ = {0, 0, -1};
}

// --- helpers ---

Result<std::string> check_pem_certs(std::string text, const std::string& what) {
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  if (!bio)
    return Error(Errc::internal, "BIO_new_mem_buf failed");
  ERR_clear_error();
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert)
    return Error(Errc::invalid,
                 what + ": not a PEM certificate (expected \"-----BEGIN CERTIFICATE-----\"): " +
                     openssl_error());
  X509_free(cert);
  return text;
}

Result<std::string> check_pem_key(std::string text, const std::string& what) {
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  if (!bio)
    return Error(Errc::internal, "BIO_new_mem_buf failed");
  ERR_clear_error();
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key)
    return Error(Errc::invalid, what + ": not a PEM private key: " + openssl_error());
  EVP_PKEY_free(key);
  return text;
}

}  // namespace kv::core::kube
