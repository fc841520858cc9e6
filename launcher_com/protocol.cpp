#include "launcher_com/protocol.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <utility>

namespace kv::launcher_com::proto {
namespace json = core::json;
using core::Errc;

namespace {

constexpr std::array<std::pair<Command, std::string_view>, 9> kCommands{{
    {Command::sync, "sync"},
    {Command::shutdown, "shutdown"},
    {Command::kill, "kill"},
    {Command::pause, "pause"},
    {Command::unpause, "unpause"},
    {Command::soft_reboot, "soft-reboot"},
    {Command::reset, "reset"},
    {Command::get_status, "get-status"},
    {Command::ping, "ping"},
}};

constexpr std::array<std::pair<EventKind, std::string_view>, 7> kEvents{{
    {EventKind::defined, "defined"},
    {EventKind::started, "started"},
    {EventKind::paused, "paused"},
    {EventKind::resumed, "resumed"},
    {EventKind::shutdown, "shutdown"},
    {EventKind::crashed, "crashed"},
    {EventKind::exiting, "exiting"},
}};

template <class Table>
std::string allowed_names(const Table& t) {
  std::string out;
  for (const auto& [_, name] : t) {
    if (!out.empty())
      out += ", ";
    out += name;
  }
  return out;
}

json::Value status_to_json(const DomainStatus& s, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  json::set(v, "state", s.state, a);
  json::set(v, "reason", s.reason, a);
  if (!s.accelerator.empty())
    json::set(v, "accelerator", s.accelerator, a);
  json::Value ifaces(rapidjson::kArrayType);
  for (const auto& i : s.interfaces) {
    json::Value o(rapidjson::kObjectType);
    json::set(o, "name", i.name, a);
    json::set(o, "mac", i.mac, a);
    json::set(o, "ipAddress", i.ip_address, a);
    ifaces.PushBack(o, a);
  }
  v.AddMember("interfaces", ifaces, a);
  return v;
}

Result<DomainStatus> status_from_json(const json::Value& v) {
  if (!v.IsObject())
    return Error(Errc::parse, "status: expected an object, got " + std::string(json::type_name(v)));
  DomainStatus s;
  s.state = std::string(json::get_string(v, "state").value_or("unknown"));
  s.reason = std::string(json::get_string(v, "reason").value_or(""));
  s.accelerator = std::string(json::get_string(v, "accelerator").value_or(""));
  if (const auto* ifaces = json::find(v, "interfaces"); ifaces && ifaces->IsArray()) {
    for (const auto& i : ifaces->GetArray()) {
      if (!i.IsObject())
        return Error(Errc::parse, "status.interfaces[]: expected objects");
      s.interfaces.push_back({std::string(json::get_string(i, "name").value_or("")),
                              std::string(json::get_string(i, "mac").value_or("")),
                              std::string(json::get_string(i, "ipAddress").value_or(""))});
    }
  }
  return s;
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Requests are written member by member so that the VMI goes from the caller's document straight
// into the frame. Responses and events are small and ours: built as a document, then written.
struct Encoder {
  Writer& w;

  void key(std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
  void string(std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }

  void operator()(const Request& r) {
    w.StartObject();
    key("type");
    string("request");
    key("id");
    w.Uint64(r.id);
    key("command");
    string(command_name(r.command));
    if (r.vmi) {
      key("vmi");
      r.vmi->Accept(w);
    }
    if (r.grace_period_seconds) {
      key("gracePeriodSeconds");
      w.Int64(*r.grace_period_seconds);
    }
    w.EndObject();
  }
  void operator()(const Response& r) {
    json::Document d;
    d.SetObject();
    json::Allocator& a = d.GetAllocator();
    json::set(d, "type", "response", a);
    d.AddMember("id", json::Value(static_cast<uint64_t>(r.id)), a);
    d.AddMember("ok", json::Value(r.ok()), a);
    if (r.error) {
      json::Value e(rapidjson::kObjectType);
      json::set(e, "code", core::errc_name(r.error->code), a);
      json::set(e, "message", r.error->message, a);
      json::Value ctx(rapidjson::kObjectType);
      for (const auto& [k, v] : r.error->context)
        json::set(ctx, k, v, a);
      e.AddMember("context", ctx, a);
      d.AddMember("error", e, a);
    }
    if (r.status)
      d.AddMember("status", status_to_json(*r.status, a), a);
    d.Accept(w);
  }
  void operator()(const Event& e) {
    json::Document d;
    d.SetObject();
    json::Allocator& a = d.GetAllocator();
    json::set(d, "type", "event", a);
    json::set(d, "event", event_name(e.kind), a);
    json::set(d, "reason", e.reason, a);
    d.AddMember("status", status_to_json(e.status, a), a);
    if (e.exit_status)
      d.AddMember("exitStatus", json::Value(*e.exit_status), a);
    d.Accept(w);
  }
};

Errc errc_from_name(std::string_view n) {
  for (int i = 0; i <= static_cast<int>(Errc::internal); ++i) {
    auto c = static_cast<Errc>(i);
    if (core::errc_name(c) == n)
      return c;
  }
  return Errc::internal;
}

}  // namespace

std::string_view command_name(Command c) {
  for (const auto& [k, n] : kCommands)
    if (k == c)
      return n;
  return "unknown";
}

Result<Command> parse_command(std::string_view name) {
  for (const auto& [k, n] : kCommands)
    if (n == name)
      return k;
  return Error(Errc::invalid,
               "command: \"" + std::string(name) + "\" is not one of " + allowed_names(kCommands));
}

std::string_view event_name(EventKind k) {
  for (const auto& [e, n] : kEvents)
    if (e == k)
      return n;
  return "unknown";
}

Result<EventKind> parse_event(std::string_view name) {
  for (const auto& [k, n] : kEvents)
    if (n == name)
      return k;
  return Error(Errc::invalid,
               "event: \"" + std::string(name) + "\" is not one of " + allowed_names(kEvents));
}

Result<VmiDocument> parse_vmi(std::string_view json_text) {
  auto doc = json::parse(json_text);
  if (!doc.ok())
    return std::move(doc).error();
  return VmiDocument(std::make_shared<json::Document>(std::move(*doc)));
}

std::string encode(const Message& m) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  std::visit(Encoder{w}, m);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string frame(const Message& m) {
  std::string body = encode(m);
  auto n = static_cast<std::uint32_t>(body.size());
  std::string out;
  out.reserve(4 + body.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out += body;
  return out;
}

Result<Message> decode(std::string_view body) {
  auto parsed = json::parse(body);
  if (!parsed.ok())
    return parsed.error();
  // Shared: a sync request's VMI points into it.
  auto doc = std::make_shared<const json::Document>(std::move(*parsed));
  const json::Document& d = *doc;
  if (!d.IsObject())
    return Error(Errc::parse,
                 "message: expected a JSON object, got " + std::string(json::type_name(d)));
  auto type = json::get_string(d, "type");
  if (!type)
    return Error(Errc::parse, "type: missing; expected request, response or event");

  auto get_id = [&]() -> Result<std::uint64_t> {
    const auto* id = json::find(d, "id");
    if (!id || !id->IsUint64())
      return Error(Errc::parse, "id: missing or not a non-negative integer");
    return id->GetUint64();
  };

  if (*type == "request") {
    Request r;
    auto id = get_id();
    if (!id.ok())
      return id.error();
    r.id = *id;
    auto cmd_name = json::get_string(d, "command");
    if (!cmd_name)
      return Error(Errc::parse, "command: missing");
    auto cmd = parse_command(*cmd_name);
    if (!cmd.ok())
      return cmd.error();
    r.command = *cmd;
    if (const auto* vmi = json::find(d, "vmi")) {
      if (!vmi->IsObject())
        return Error(Errc::invalid, "vmi: expected a VirtualMachineInstance object, got " +
                                        std::string(json::type_name(*vmi)));
      r.vmi = VmiDocument(doc, vmi);
    }
    if (const auto* g = json::find(d, "gracePeriodSeconds")) {
      if (!g->IsInt64() || g->GetInt64() < 0)
        return Error(Errc::invalid, "gracePeriodSeconds: expected a non-negative integer");
      r.grace_period_seconds = g->GetInt64();
    }
    return Message{std::move(r)};
  }
  if (*type == "response") {
    Response r;
    auto id = get_id();
    if (!id.ok())
      return id.error();
    r.id = *id;
    if (const auto* e = json::find(d, "error"); e && e->IsObject()) {
      Error err(errc_from_name(json::get_string(*e, "code").value_or("internal")),
                std::string(json::get_string(*e, "message").value_or("")));
      if (const auto* ctx = json::find(*e, "context"); ctx && ctx->IsObject())
        for (const auto& m : ctx->GetObject())
          if (m.value.IsString())
            err.with(m.name.GetString(), m.value.GetString());
      r.error = std::move(err);
    } else if (json::get_bool(d, "ok") == false) {
      r.error = Error(Errc::internal, "request failed without an error message");
    }
    if (const auto* s = json::find(d, "status")) {
      auto st = status_from_json(*s);
      if (!st.ok())
        return st.error();
      r.status = std::move(*st);
    }
    return Message{std::move(r)};
  }
  if (*type == "event") {
    Event e;
    auto name = json::get_string(d, "event");
    if (!name)
      return Error(Errc::parse, "event: missing");
    auto kind = parse_event(*name);
    if (!kind.ok())
      return kind.error();
    e.kind = *kind;
    e.reason = std::string(json::get_string(d, "reason").value_or(""));
    if (const auto* s = json::find(d, "status")) {
      auto st = status_from_json(*s);
      if (!st.ok())
        return st.error();
      e.status = std::move(*st);
    }
    if (auto x = json::get_int(d, "exitStatus"))
      e.exit_status = static_cast<int>(*x);
    return Message{std::move(e)};
  }
  return Error(Errc::parse,
               "type: \"" + std::string(*type) + "\" is not one of request, response, event");
}

Result<std::optional<std::string>> FrameReader::next() {
  if (buf_.size() < 4)
    return std::optional<std::string>{};
  auto b = [&](size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(buf_[i]));
  };
  std::uint32_t n = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
  if (n == 0 || n > kMaxFrameBytes)
    return Error(Errc::parse, "frame length " + std::to_string(n) + " is outside 1.." +
                                  std::to_string(kMaxFrameBytes) +
                                  " (expected a 4-byte big-endian length, then JSON)");
  if (buf_.size() < 4 + static_cast<size_t>(n))
    return std::optional<std::string>{};
  std::string body = buf_.substr(4, n);
  buf_.erase(0, 4 + static_cast<size_t>(n));
  return std::optional<std::string>{std::move(body)};
}

}  // namespace kv::launcher_com::proto
