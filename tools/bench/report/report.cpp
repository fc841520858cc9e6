#include "tools/bench/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "core/json.hpp"

namespace kv::bench {
namespace json = kv::core::json;
using kv::core::Errc;
using kv::core::Error;
using kv::core::Result;

namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos)
      return out;
    start = tab + 1;
  }
}

std::optional<double> to_double(std::string_view s) {
  if (s.empty())
    return std::nullopt;
  std::string copy(s);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double median(std::vector<double> v) {
  return percentile(std::move(v), 50).value_or(0);
}

}  // namespace

Result<std::vector<Sample>> parse_samples(std::string_view text) {
  std::vector<Sample> out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#')
      continue;
    auto f = split_tabs(line);
    auto bad = [&](const std::string& why) {
      return Error{Errc::invalid, "samples line " + std::to_string(line_no) + ": " + why + ": \"" +
                                      std::string(line) + "\""};
    };
    if (f.size() != 4)
      return bad("want 4 tab-separated fields KIND N NAME VALUE, got " + std::to_string(f.size()));
    static const char* const kinds[] = {"latency", "step", "memory", "control"};
    if (std::none_of(std::begin(kinds), std::end(kinds), [&](const char* k) { return f[0] == k; }))
      return bad("KIND must be latency, step, memory or control");
    auto n = to_double(f[1]);
    if (!n || *n < 1 || *n != std::floor(*n))
      return bad("N must be a whole number >= 1");
    if (f[2].empty())
      return bad("NAME is empty");
    auto v = to_double(f[3]);
    if (!v)
      return bad("VALUE is not a number");
    out.push_back({std::string(f[0]), static_cast<int>(*n), std::string(f[2]), *v});
  }
  return out;
}

std::optional<double> percentile(std::vector<double> values, double p) {
  if (values.empty())
    return std::nullopt;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

std::optional<Summary> summarize(const std::vector<double>& values) {
  if (values.empty())
    return std::nullopt;
  return Summary{values.size(), *percentile(values, 50), *percentile(values, 95),
                 *std::max_element(values.begin(), values.end())};
}

void ratios(Group& g) {
  auto find = [&](const char* name) -> const Summary* {
    auto it = g.latency.find(name);
    return it == g.latency.end() ? nullptr : &it->second;
  };
  const Summary* vm_running = find("vm.running");
  const Summary* vm_ready = find("vm.ready");
  const Summary* pod = find("pod.running");
  const Summary* qemu = find("qemu.ready");
  auto put = [&](const std::string& name, double num50, double den50, double num95, double den95) {
    if (den50 > 0)
      g.ratio_p50[name] = num50 / den50;
    if (den95 > 0)
      g.ratio_p95[name] = num95 / den95;
  };
  if (vm_running && pod)
    put("vm.running/pod.running", vm_running->p50, pod->p50, vm_running->p95, pod->p95);
  if (vm_ready && pod && qemu)
    put("vm.ready/(pod.running+qemu.ready)", vm_ready->p50, pod->p50 + qemu->p50, vm_ready->p95,
        pod->p95 + qemu->p95);
  if (vm_ready && qemu)
    put("vm.ready/qemu.ready", vm_ready->p50, qemu->p50, vm_ready->p95, qemu->p95);
}

std::vector<Group> analyse(const std::vector<Sample>& samples) {
  struct Raw {
    std::map<std::string, std::vector<double>> latency, step, memory;
    std::map<std::string, double> control;
  };
  std::map<int, Raw> raw;
  for (const auto& s : samples) {
    Raw& r = raw[s.n];
    if (s.kind == "latency")
      r.latency[s.name].push_back(s.value);
    else if (s.kind == "step")
      r.step[s.name].push_back(s.value);
    else if (s.kind == "memory")
      r.memory[s.name].push_back(s.value);
    else
      r.control[s.name] = s.value;  // one figure per run: the last one counts
  }
  std::vector<Group> out;
  for (auto& [n, r] : raw) {
    Group g;
    g.n = n;
    for (auto& [name, v] : r.latency)
      g.latency[name] = *summarize(v);
    for (auto& [name, v] : r.step)
      g.timeline.emplace_back(name, median(v));
    std::stable_sort(g.timeline.begin(), g.timeline.end(),
                     [](const auto& a, const auto& b) { return a.second < b.second; });
    for (auto& [name, v] : r.memory)
      g.memory[name] = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    g.control = r.control;
    ratios(g);
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<Goal> goals(const std::vector<Group>& groups) {
  std::vector<Goal> out;
  const Group* smallest = nullptr;
  const Group* largest = nullptr;
  for (const auto& g : groups) {
    if (g.latency.count("vm.running") == 0)
      continue;
    if (!smallest || g.n < smallest->n)
      smallest = &g;
    if (!largest || g.n > largest->n)
      largest = &g;
  }
  auto ratio_goal = [&](const std::string& what, double measured, double limit) {
    out.push_back(
        {what, "<= " + fixed(limit, 2) + "x", fixed(measured, 2) + "x", measured <= limit});
  };
  auto mib_goal = [&](const std::string& what, double mib, double limit_mib,
                      const std::string& target) {
    out.push_back({what, target, fixed(mib, 1) + " MiB", mib <= limit_mib});
  };
  const std::string n1 = smallest ? ", N=" + std::to_string(smallest->n) : "";
  if (smallest) {
    auto r = smallest->ratio_p50.find("vm.running/pod.running");
    if (r != smallest->ratio_p50.end())
      ratio_goal("VMI Running / pod Running, p50" + n1, r->second, 1.5);
    r = smallest->ratio_p50.find("vm.ready/(pod.running+qemu.ready)");
    if (r != smallest->ratio_p50.end())
      ratio_goal("guest ready / (pod + bare QEMU), p50" + n1, r->second, 1.3);
  }
  if (largest) {
    const Summary& s = largest->latency.at("vm.running");
    if (s.p50 > 0)
      ratio_goal("VMI Running p95 / p50, N=" + std::to_string(largest->n), s.p95 / s.p50, 1.5);
  }
  if (smallest) {
    auto l = smallest->memory.find("rss.launcher");
    auto d = smallest->memory.find("rss.libvirtd");
    if (l != smallest->memory.end() && d != smallest->memory.end())
      mib_goal("launcher + libvirtd RSS per VM" + n1, l->second + d->second, 40, "<= 40 MiB");
  }
  constexpr double kMB = 1e6 / 1048576.0;  // MiB per MB
  for (const auto& g : groups) {           // the control-plane run is its own group (N = VMIs)
    auto c = g.control.find("cp.controller_rss_mib.peak");
    if (c != g.control.end())
      mib_goal("virt-controller peak RSS, " + std::to_string(g.n) + " VMIs", c->second, 30 * kMB,
               "<= 30 MB");
  }
  if (largest) {
    auto h = largest->control.find("virt-handler.rss_mib.peak");
    if (h != largest->control.end())
      mib_goal("virt-handler peak RSS, N=" + std::to_string(largest->n), h->second, 20 * kMB,
               "<= 20 MB");
  }
  return out;
}

namespace {

const char* latency_label(const std::string& name) {
  if (name == "vm.running")
    return "VM: create -> VMI Running";
  if (name == "vm.ready")
    return "VM: create -> guest ready line";
  if (name == "pod.running")
    return "busybox pod: create -> Running";
  if (name == "qemu.ready")
    return "bare QEMU: start -> guest ready line";
  return nullptr;
}

void row(std::ostringstream& o, const std::string& label, const std::vector<std::string>& cells) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "  %-44s", label.c_str());
  o << buf;
  for (const auto& c : cells) {
    std::snprintf(buf, sizeof buf, "%10s", c.c_str());
    o << buf;
  }
  o << '\n';
}

}  // namespace

std::string render_table(const std::vector<Group>& groups) {
  std::ostringstream o;
  for (const auto& g : groups) {
    if (g.latency.empty() && g.timeline.empty() && g.memory.empty())
      continue;
    o << "N = " << g.n << " created together\n";
    if (!g.latency.empty()) {
      row(o, "start latency (s)", {"count", "p50", "p95", "max"});
      // The baselines' order: ours first, then what they are compared with.
      for (const char* name : {"vm.running", "vm.ready", "pod.running", "qemu.ready"}) {
        auto it = g.latency.find(name);
        if (it != g.latency.end())
          row(o, latency_label(name),
              {std::to_string(it->second.count), fixed(it->second.p50, 2), fixed(it->second.p95, 2),
               fixed(it->second.max, 2)});
      }
      for (const auto& [name, s] : g.latency)
        if (!latency_label(name))
          row(o, name,
              {std::to_string(s.count), fixed(s.p50, 2), fixed(s.p95, 2), fixed(s.max, 2)});
      for (const auto& [name, r50] : g.ratio_p50) {
        auto r95 = g.ratio_p95.find(name);
        row(o, "ratio " + name,
            {"", fixed(r50, 2) + "x", r95 == g.ratio_p95.end() ? "" : fixed(r95->second, 2) + "x",
             ""});
      }
    }
    if (!g.timeline.empty()) {
      row(o, "timeline, median per VM (s since create)", {"at", "step"});
      double prev = 0;
      for (const auto& [step, at] : g.timeline) {
        row(o, step, {fixed(at, 2), "+" + fixed(at - prev, 2)});
        prev = at;
      }
    }
    if (!g.memory.empty()) {
      row(o, "memory per VM, mean (MiB)", {"MiB"});
      for (const auto& [part, mib] : g.memory)
        row(o, part, {fixed(mib, 1)});
    }
    if (!g.control.empty()) {
      row(o, "control plane", {"value"});
      for (const auto& [name, v] : g.control)
        row(o, name, {fixed(v, 2)});
    }
    o << '\n';
  }
  auto gs = goals(groups);
  if (!gs.empty()) {
    o << "goals (recorded, not asserted)\n";
    for (const auto& g : gs)
      row(o, g.what, {g.target, g.measured, g.met ? "met" : "not met"});
  }
  return o.str();
}

std::string render_json(const std::vector<Group>& groups,
                        const std::map<std::string, std::string>& context) {
  json::Document doc;
  auto& a = doc.GetAllocator();
  doc.SetObject();
  for (const auto& [k, v] : context)
    json::set(doc, k, v, a);
  json::Value arr(rapidjson::kArrayType);
  for (const auto& g : groups) {
    json::Value jg(rapidjson::kObjectType);
    jg.AddMember("n", g.n, a);
    json::Value lat(rapidjson::kObjectType);
    for (const auto& [name, s] : g.latency) {
      json::Value js(rapidjson::kObjectType);
      js.AddMember("count", static_cast<uint64_t>(s.count), a);
      js.AddMember("p50", s.p50, a);
      js.AddMember("p95", s.p95, a);
      js.AddMember("max", s.max, a);
      json::set(lat, name, std::move(js), a);
    }
    json::set(jg, "latency", std::move(lat), a);
    for (const auto& [key, m] : {std::pair{"ratio_p50", &g.ratio_p50},
                                 {"ratio_p95", &g.ratio_p95},
                                 {"memory_mib", &g.memory},
                                 {"control", &g.control}}) {
      json::Value obj(rapidjson::kObjectType);
      for (const auto& [name, v] : *m)
        json::set(obj, name, json::Value(v), a);
      json::set(jg, key, std::move(obj), a);
    }
    json::Value tl(rapidjson::kArrayType);
    for (const auto& [step, at] : g.timeline) {
      json::Value js(rapidjson::kObjectType);
      json::set(js, "step", step, a);
      js.AddMember("seconds", at, a);
      tl.PushBack(js, a);
    }
    json::set(jg, "timeline", std::move(tl), a);
    arr.PushBack(jg, a);
  }
  json::set(doc, "groups", std::move(arr), a);
  json::Value jgoals(rapidjson::kArrayType);
  for (const auto& g : goals(groups)) {
    json::Value jg(rapidjson::kObjectType);
    json::set(jg, "what", g.what, a);
    json::set(jg, "target", g.target, a);
    json::set(jg, "measured", g.measured, a);
    jg.AddMember("met", g.met, a);
    jgoals.PushBack(jg, a);
  }
  json::set(doc, "goals", std::move(jgoals), a);
  return json::to_pretty_string(doc);
}

}  // namespace kv::bench
