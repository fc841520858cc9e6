// `virtctl ssh` (and the command line shared with scp.cpp): upstream's local-ssh mode.
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ostream>

#include "tools/virtctl/portforward.hpp"

namespace kv::virtctl {

namespace {

// One word for the shell ssh runs its ProxyCommand with.
std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=:@+,") == std::string::npos)
    return s;
  std::string r = "'";
  for (char c : s) {
    if (c == '\'')
      r += "'\\''";
    else
      r += c;
  }
  return r + "'";
}

}  // namespace

std::vector<std::string> local_client_options(const std::string& fallback_ns,
                                              const RemoteOptions& o, const LocalClient& self) {
  const std::string& ns = o.target.ns.empty() ? fallback_ns : o.target.ns;
  std::string proxy = "ProxyCommand=" + shell_quote(self.self);
  if (!self.kubeconfig.empty())
    proxy += " --kubeconfig " + shell_quote(self.kubeconfig);
  if (!self.context.empty())
    proxy += " --context " + shell_quote(self.context);
  proxy += " port-forward --stdio=true " + o.target.kind + "/" + o.target.name + "/" + ns + " " +
           std::to_string(o.ssh_port);
  std::vector<std::string> args = {"-o", proxy};
  if (!o.known_hosts.empty()) {
    args.push_back("-o");
    args.push_back("UserKnownHostsFile=" + o.known_hosts);
  }
  // "-o StrictHostKeyChecking=no" is one flag value but two ssh words, as upstream's users write
  // it.
  for (const auto& opt : o.local_ssh_opts) {
    if (opt.rfind("-o ", 0) == 0) {
      args.push_back("-o");
      args.push_back(opt.substr(3));
    } else {
      args.push_back(opt);
    }
  }
  if (!o.identity_file.empty()) {
    args.push_back("-i");
    args.push_back(o.identity_file);
  }
  return args;
}

std::string ssh_host(const std::string& fallback_ns, const RemoteOptions& o) {
  const std::string& ns = o.target.ns.empty() ? fallback_ns : o.target.ns;
  return (o.username.empty() ? "" : o.username + "@") + o.target.kind + "." + o.target.name + "." +
         ns;
}

std::string virtctl_path() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  return n > 0 ? std::string(self, static_cast<size_t>(n)) : "virtctl";
}

std::vector<std::string> ssh_command(const std::string& ns, const RemoteOptions& opts,
                                     const LocalClient& self) {
  std::vector<std::string> argv = {"ssh"};
  for (auto& a : local_client_options(ns, opts, self))
    argv.push_back(std::move(a));
  argv.push_back(ssh_host(ns, opts));
  if (!opts.command.empty())
    argv.push_back(opts.command);
  return argv;
}

int run_local_client(const std::vector<std::string>& argv, std::ostream& err) {
  std::vector<char*> cargv;
  for (const auto& a : argv)
    cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  err.flush();
  const pid_t pid = ::fork();
  if (pid < 0) {
    err << "cannot start " << argv[0] << ": " << std::strerror(errno) << "\n";
    return 127;
  }
  if (pid == 0) {
    ::execvp(cargv[0], cargv.data());
    const std::string msg = "cannot run " + argv[0] + ": " + std::strerror(errno) + " (virtctl " +
                            argv[0] + " needs the OpenSSH client on PATH)\n";
    [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  // ssh owns the terminal: ^C goes to it (and to us, which must not end before it).
  struct sigaction ignore {
  }, old_int{}, old_quit{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGINT, &ignore, &old_int);
  ::sigaction(SIGQUIT, &ignore, &old_quit);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace kv::virtctl
