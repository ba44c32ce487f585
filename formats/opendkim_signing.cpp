// OpenDKIM's sign-or-verify decision for one message, predicted from its
// configuration, and the DKIM-Signature check at end of message.
#include "formats/opendkim.hpp"

#include "formats/opendkim_detail.hpp"

namespace sg::dkim {

using namespace detail;

namespace detail {

std::optional<KeyTableValue> split_key_value(std::string_view value) {
  const auto c1 = value.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  const auto c2 = value.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  KeyTableValue kv{std::string(trim(value.substr(0, c1))),
                   std::string(trim(value.substr(c1 + 1, c2 - c1 - 1))),
                   std::string(trim(value.substr(c2 + 1)))};
  if (kv.domain.empty() || kv.selector.empty() || kv.key_file.empty()) return std::nullopt;
  return kv;
}

// The SigningTable value's first field: the KeyTable key name.
std::string_view key_name_of(std::string_view value) {
  value = trim(value);
  std::size_t end = 0;
  while (end < value.size() && !is_space(value[end])) ++end;
  return value.substr(0, end);
}

}  // namespace detail

namespace {

// The SigningTable entry for an address (opendkim.conf(5) SigningTable).
const DatasetEntry* signing_lookup(const Dataset& table, std::string_view local,
                                   std::string_view domain) {
  const std::string user(local);
  const std::string dom(domain);
  if (table.kind == DatasetKind::kRefile) return table.find(user + "@" + dom);
  std::vector<std::string> keys;
  if (!user.empty()) keys.push_back(user + "@" + dom);
  keys.push_back(dom);
  std::vector<std::string> parents;
  for (auto dot = dom.find('.'); dot != std::string::npos; dot = dom.find('.', dot + 1)) {
    parents.push_back(dom.substr(dot));
  }
  if (!user.empty()) {
    for (const auto& p : parents) keys.push_back(user + "@" + p);
  }
  for (const auto& p : parents) keys.push_back(p);
  if (!user.empty()) keys.push_back(user + "@*");
  keys.push_back("*");
  for (const auto& k : keys) {
    if (const auto* e = table.find(k)) return e;
  }
  return nullptr;
}

// Splits a From address into local part and lowercased domain.
std::pair<std::string, std::string> split_address(std::string_view from) {
  from = trim(from);
  if (const auto lt = from.rfind('<'); lt != std::string_view::npos) {
    from = from.substr(lt + 1);
    const auto gt = from.find('>');
    from = trim(from.substr(0, gt));
  }
  const auto at = from.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view local = from.substr(0, at);
  std::string dom = lower(trim(from.substr(at + 1)));
  while (!dom.empty() && dom.back() == '.') dom.pop_back();
  if (dom.empty() || dom.front() == '[' || dom.front() == '.') return {};
  for (char c : dom) {
    if (is_space(c) || c == '<' || c == '>' || c == '@' || c == ',' || c == ';') return {};
  }
  return {std::string(trim(local)), dom};
}

std::string strip_braces(std::string_view name) {
  name = trim(name);
  if (name.size() >= 2 && name.front() == '{' && name.back() == '}') {
    name = name.substr(1, name.size() - 2);
  }
  return std::string(name);
}

bool is_tag_name(std::string_view s) {
  if (s.empty()) return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(s.front())) return false;
  for (char c : s) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
  }
  return true;
}

std::string normalise_domain(std::string_view d) {
  std::string out = lower(trim(d));
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

bool has_two_labels(std::string_view d) {
  const auto dot = d.find('.');
  return dot != std::string_view::npos && dot > 0 && d.back() != '.';
}

}  // namespace

std::string from_domain(std::string_view from_address) {
  return split_address(from_address).second;
}

const char* unsigned_code(Unsigned u) {
  // In the order of the enumerators.
  static constexpr const char* kCodes[] = {"none",          "peer_list",      "verify_only",
                                           "not_internal",  "no_from_domain", "no_signing_entry",
                                           "not_in_domain", "no_key"};
  static_assert(std::size(kCodes) == static_cast<std::size_t>(Unsigned::no_key) + 1);
  return kCodes[static_cast<std::size_t>(u)];
}

namespace {

// Walks OpenDKIM's conditions for signing in the order it checks them,
// noting each one not met (the first gives the code), the origin that
// makes the client's mail signable and how the key is found.
class Predictor {
 public:
  Predictor(const OpenDkimConfig& config, const ClientInfo& client)
      : config_(config), client_(client), who_("client " + client.ip) {
    if (const auto h = trim(client.hostname); !h.empty() && h != "unknown")
      who_ += " (" + std::string(h) + ")";
  }

  Prediction run(std::string_view from_address) {
    peer_and_mode();
    const std::string origin = find_origin();
    const std::string key_how = find_key(from_address);
    if (!lacks_.empty()) {
      p_.will_sign = false;  // first_lack is set
      p_.signing_domain.clear();
      p_.selector.clear();
      p_.key_name.clear();
      p_.reason = join(lacks_, "; ");
      return p_;
    }
    p_.will_sign = true;
    p_.reason = "OpenDKIM will sign with d=" + p_.signing_domain + " s=" + p_.selector + ": " +
                origin + "; " + key_how;
    return p_;
  }

 private:
  void lack(Unsigned code, std::string why) {
    if (lacks_.empty()) p_.first_lack = code;
    lacks_.push_back(std::move(why));
  }

  void peer_and_mode() {
    if (config_.peer_list) {
      const auto m = match_host(*config_.peer_list, client_.ip, client_.hostname);
      if (m.matched)
        lack(Unsigned::peer_list, who_ + " is in OpenDKIM's PeerList (" + config_.peer_list->spec +
                                      ", " + m.entry->key + " at " + where(*m.entry) +
                                      "): OpenDKIM does not process its mail at all");
    }
    if (!config_.sign)
      lack(Unsigned::verify_only, "OpenDKIM Mode is \"" + config_.mode + "\": it only verifies");
  }

  // The origin: authenticated, internal, MTA or MacroList; "" (and a lack)
  // when there is none.
  std::string find_origin() {
    const auto internal = match_host(config_.internal_hosts, client_.ip, client_.hostname);
    if (client_.authenticated) return "the client authenticated";
    if (internal.matched)
      return who_ + " is in InternalHosts (" + internal.entry->key + " at " +
             where(*internal.entry) + ")";
    if (config_.mta && !client_.daemon_name.empty() && config_.mta->find(client_.daemon_name))
      return "daemon " + client_.daemon_name + " is in MTA (" + config_.mta->spec + ")";
    if (std::string m = macro_origin(); !m.empty()) return m;
    std::string why = who_ + " is not in OpenDKIM's InternalHosts (" + config_.internal_hosts.spec;
    if (internal.entry)
      why += "; excluded by " + internal.entry->key + " at " + where(*internal.entry);
    why += ") and did not authenticate";
    if (config_.mta) why += ", nor came in on a daemon named in MTA (" + config_.mta->spec + ")";
    if (config_.macro_list)
      why += ", nor set a macro MacroList (" + config_.macro_list->spec + ") asks for";
    lack(Unsigned::not_internal, why);
    return "";
  }

  std::string macro_origin() const {
    if (!config_.macro_list) return "";
    for (const auto& e : config_.macro_list->entries) {
      const std::string name = strip_braces(e.key);
      auto it = client_.macros.find(name);
      if (it == client_.macros.end()) it = client_.macros.find("{" + name + "}");
      if (it == client_.macros.end() || it->second.empty()) continue;
      bool ok = e.value.empty();
      std::string_view values = e.value;
      while (!ok && !values.empty()) {
        const auto bar = values.find('|');
        ok = trim(values.substr(0, bar)) == it->second;
        values = bar == std::string_view::npos ? std::string_view{} : values.substr(bar + 1);
      }
      if (ok) return "macro " + name + "=" + it->second + " matches MacroList (" + where(e) + ")";
    }
    return "";
  }

  // How the key is found; "" (and a lack) when there is none.
  std::string find_key(std::string_view from_address) {
    const auto [local, domain] = split_address(from_address);
    if (domain.empty()) {
      lack(Unsigned::no_from_domain,
           "From address \"" + std::string(from_address) + "\" has no domain");
    } else if (config_.key_table) {
      return key_from_tables(local, domain);
    } else if (config_.domain) {
      return key_from_domain(domain);
    } else if (config_.signing_table) {
      lack(Unsigned::no_key, "OpenDKIM has a SigningTable (" + config_.signing_table->spec +
                                 ") but no KeyTable: it has no keys");
    } else {
      lack(Unsigned::no_key,
           "OpenDKIM has no signing key: neither KeyTable and SigningTable nor Domain, KeyFile "
           "and Selector are set");
    }
    return "";
  }

  std::string key_from_tables(const std::string& local, const std::string& domain) {
    if (!config_.signing_table) {
      lack(Unsigned::no_signing_entry, "OpenDKIM has a KeyTable (" + config_.key_table->spec +
                                           ") but no SigningTable: it selects no key");
      return "";
    }
    const auto* se = signing_lookup(*config_.signing_table, local, domain);
    if (!se) {
      lack(Unsigned::no_signing_entry, "From domain " + domain + " has no SigningTable entry (" +
                                           config_.signing_table->spec + ")");
      return "";
    }
    std::string name(key_name_of(se->value));
    if (name == "%") name = domain;
    const auto* ke = config_.key_table->find(name);
    const auto kv = ke ? split_key_value(ke->value) : std::nullopt;
    if (!kv) {
      lack(Unsigned::no_key, "SigningTable entry " + se->key + " (" + where(*se) + ") names key " +
                                 name + ", which is not in the KeyTable (" +
                                 config_.key_table->spec + ")");
      return "";
    }
    p_.key_name = name;
    p_.signing_domain = kv->domain == "%" ? domain : lower(kv->domain);
    p_.selector = kv->selector;
    return "From " + (local.empty() ? domain : local + "@" + domain) +
           " matches SigningTable entry " + se->key + " (" + where(*se) + ") -> key " + name +
           " (" + where(*ke) + ")";
  }

  std::string key_from_domain(const std::string& domain) {
    const DatasetEntry* hit = config_.domain->find(domain);
    const DatasetEntry* parent_hit = nullptr;
    for (auto dot = domain.find('.'); !hit && !parent_hit && dot != std::string::npos;
         dot = domain.find('.', dot + 1)) {
      parent_hit = config_.domain->find(domain.substr(dot + 1));
    }
    if (parent_hit && config_.subdomains) std::swap(hit, parent_hit);
    if (!hit) {
      std::string why =
          "From domain " + domain + " is not in OpenDKIM's Domain (" + config_.domain->spec + ")";
      if (parent_hit) why += "; " + parent_hit->key + " is, but SubDomains is off";
      lack(Unsigned::not_in_domain, why);
      return "";
    }
    if (config_.key_file.empty() || config_.selector.empty()) {
      lack(Unsigned::no_key, "OpenDKIM's Domain is set but " +
                                 std::string(config_.key_file.empty() ? "KeyFile" : "Selector") +
                                 " is not: it has no key to sign with");
      return "";
    }
    p_.signing_domain = domain;
    p_.selector = config_.selector;
    return "From domain " + domain + " is in Domain (" + hit->key + " at " + where(*hit) +
           "), key " + config_.key_file;
  }

  const OpenDkimConfig& config_;
  const ClientInfo& client_;
  std::string who_;
  Prediction p_;
  std::vector<std::string> lacks_;
};

}  // namespace

Prediction predict_signing(const OpenDkimConfig& config, const ClientInfo& client,
                           std::string_view from_address) {
  return Predictor(config, client).run(from_address);
}

std::optional<DkimSignature> parse_dkim_signature(std::string_view header_value) {
  DkimSignature sig;
  std::string_view rest = header_value;
  bool last = false;
  while (!last) {
    const auto semi = rest.find(';');
    last = semi == std::string_view::npos;
    const std::string_view spec = trim(rest.substr(0, semi));
    rest = last ? std::string_view{} : rest.substr(semi + 1);
    if (spec.empty()) {
      // Only a trailing ';' may leave an empty tag-spec.
      if (last && !sig.tags.empty()) break;
      return std::nullopt;
    }
    const auto eq = spec.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view name = trim(spec.substr(0, eq));
    if (!is_tag_name(name)) return std::nullopt;
    std::string value;
    for (char c : spec.substr(eq + 1)) {
      if (is_space(c)) continue;
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x21 || u == 0x7F) return std::nullopt;
      value += c;
    }
    if (!sig.tags.emplace(std::string(name), std::move(value)).second) return std::nullopt;
  }
  const auto get = [&](const char* tag) {
    const auto it = sig.tags.find(tag);
    return it == sig.tags.end() ? std::string{} : it->second;
  };
  sig.d = get("d");
  sig.s = get("s");
  sig.i = get("i");
  sig.a = get("a");
  sig.v = get("v");
  if (sig.d.empty() || sig.s.empty()) return std::nullopt;
  return sig;
}

bool aligned(std::string_view d, std::string_view from) {
  const std::string a = normalise_domain(d);
  const std::string b = normalise_domain(from);
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  const std::string& shorter = a.size() < b.size() ? a : b;
  const std::string& longer = a.size() < b.size() ? b : a;
  return has_two_labels(shorter) && ends_with(longer, "." + shorter);
}

}  // namespace sg::dkim
