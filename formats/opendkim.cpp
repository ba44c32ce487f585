// Reading OpenDKIM's configuration: opendkim.conf (with Include), and the
// data sets it names, into the model formats/opendkim.hpp declares.
#include "formats/opendkim.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "formats/opendkim_detail.hpp"

namespace sg::dkim {

using namespace detail;

namespace {

constexpr std::string_view kDefaultInternalSpec = "not set: the default is 127.0.0.1 and ::1";
constexpr int kMaxIncludeDepth = 5;
constexpr int kMaxConfFiles = 100;

// ---- the loader ------------------------------------------------------------

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = errno != 0 ? std::strerror(errno) : "cannot open";
    return std::nullopt;
  }
  std::string text{std::istreambuf_iterator<char>(in), {}};
  if (in.bad()) {
    error = "read error";
    return std::nullopt;
  }
  return text;
}

class Loader {
 public:
  Loader(const FileReader& read, LoadResult& result) : read_(read), result_(result) {}

  void read_conf(const std::string& path, const std::string& from_file, int from_line, int depth) {
    if (++conf_files_ > kMaxConfFiles) {
      result_.errors.push_back({from_file, from_line, "more than 100 configuration files"});
      return;
    }
    for (const auto& open : chain_) {
      if (open == path) {
        result_.errors.push_back({from_file, from_line, "Include loop: " + path});
        return;
      }
    }
    result_.files.push_back(path);
    std::string err;
    const auto text = read_(path, err);
    if (!text) {
      result_.errors.push_back(
          {from_file.empty() ? path : from_file, from_line, "cannot read " + path + ": " + err});
      return;
    }
    chain_.push_back(path);
    for (auto& s : parse_conf(*text, path, result_.errors)) {
      if (iequals(s.name, "Include")) {
        if (depth >= kMaxIncludeDepth) {
          result_.errors.push_back({s.file, s.line, "Include nested deeper than 5 levels"});
        } else {
          read_conf(s.value, s.file, s.line, depth + 1);
        }
        continue;
      }
      settings_.push_back(std::move(s));
    }
    chain_.pop_back();
  }

  // The last occurrence of a setting (warns when given more than once).
  const ConfSetting* get(std::string_view name) {
    const ConfSetting* found = nullptr;
    for (const auto& s : settings_) {
      if (!iequals(s.name, name)) continue;
      if (found) {
        result_.warnings.push_back({s.file, s.line,
                                    std::string(name) + " is also set at " + found->file + ":" +
                                        std::to_string(found->line) + "; the last one is used"});
      }
      found = &s;
    }
    return found;
  }

  std::optional<bool> boolean(std::string_view name) {
    const auto* s = get(name);
    if (!s) return std::nullopt;
    switch (s->value.front()) {
      case 'T':
      case 't':
      case 'Y':
      case 'y':
      case '1':
        return true;
      case 'F':
      case 'f':
      case 'N':
      case 'n':
      case '0':
        return false;
      default:
        result_.errors.push_back(
            {s->file, s->line, std::string(name) + ": \"" + s->value + "\" is not a boolean"});
        return std::nullopt;
    }
  }

  std::optional<Dataset> dataset(std::string_view name, bool host_list) {
    const auto* s = get(name);
    if (!s) return std::nullopt;
    DatasetKind kind = DatasetKind::kCsl;
    std::string_view rest;
    if (!dataset_type(name, *s, kind, rest)) return std::nullopt;
    std::optional<Dataset> ds;
    if (kind == DatasetKind::kCsl) {
      ds = host_list ? parse_host_list(rest, kind, s->file, result_.errors, s->line)
                     : parse_dataset(rest, kind, s->file, result_.errors, s->line);
    } else {
      ds = dataset_file(name, *s, rest, kind, host_list);
      if (!ds) return std::nullopt;
    }
    ds->spec = s->value;
    return ds;
  }

  void set_base_dir(std::string dir) {
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    base_dir_ = std::move(dir);
  }

 private:
  // The data set type of a setting's value (opendkim(8) "DATA SETS") and what
  // follows it; false, with an error recorded, for a type streamguard
  // cannot read.
  bool dataset_type(std::string_view name, const ConfSetting& s, DatasetKind& kind,
                    std::string_view& rest) {
    const std::string setting(name);
    const std::string& v = s.value;
    static constexpr std::string_view kUnsupported[] = {
        "db:", "dsn:", "ldap:", "ldaps:", "ldapi:", "lua:", "memcache:", "erlang:", "mdb:"};
    for (auto prefix : kUnsupported) {
      if (starts_with(v, prefix)) {
        result_.errors.push_back(
            {s.file, s.line,
             setting + ": data set type \"" + std::string(prefix) +
                 "\" is not supported by streamguard: only file, refile and csl"});
        return false;
      }
    }
    rest = v;
    if (starts_with(v, "file:")) {
      kind = DatasetKind::kFile;
      rest.remove_prefix(5);
    } else if (starts_with(v, "refile:")) {
      kind = DatasetKind::kRefile;
      rest.remove_prefix(7);
    } else if (starts_with(v, "csl:")) {
      rest.remove_prefix(4);
    } else if (ends_with(v, ".db")) {
      // opendkim(8): a name ending in ".db" is a Sleepycat DB, even a path.
      result_.errors.push_back(
          {s.file, s.line,
           setting + ": data set type \"*.db\" (Sleepycat DB, " + v +
               ") is not supported by streamguard: only file, refile and csl"});
      return false;
    } else if (starts_with(v, "/")) {
      kind = DatasetKind::kFile;
    }
    return true;
  }

  // A file or refile data set: read relative to BaseDirectory and parsed.
  std::optional<Dataset> dataset_file(std::string_view name, const ConfSetting& s,
                                      std::string_view rest, DatasetKind kind, bool host_list) {
    const std::string setting(name);
    std::string path(trim(rest));
    if (path.empty()) {
      result_.errors.push_back({s.file, s.line, setting + ": no file named"});
      return std::nullopt;
    }
    if (path.front() != '/' && !base_dir_.empty()) path = base_dir_ + "/" + path;
    result_.files.push_back(path);
    std::string err;
    const auto text = read_(path, err);
    if (!text) {
      result_.errors.push_back({s.file, s.line, setting + ": cannot read " + path + ": " + err});
      return std::nullopt;
    }
    Dataset ds = host_list ? parse_host_list(*text, kind, path, result_.errors)
                           : parse_dataset(*text, kind, path, result_.errors);
    ds.path = path;
    return ds;
  }

  const FileReader& read_;
  LoadResult& result_;
  std::vector<ConfSetting> settings_;
  std::vector<std::string> chain_;  // the Include chain being read
  int conf_files_ = 0;
  std::string base_dir_;
};

}  // namespace

std::vector<ConfSetting> parse_conf(std::string_view text, const std::string& file_name,
                                    std::vector<Error>& errors) {
  std::vector<ConfSetting> out;
  for_each_line(text, [&](int number, std::string_view raw) {
    const std::string_view l = uncomment(raw);
    if (l.empty()) return;
    std::size_t end = 0;
    while (end < l.size() && !is_space(l[end])) ++end;
    ConfSetting s;
    s.name = std::string(l.substr(0, end));
    s.value = std::string(trim(l.substr(end)));
    s.file = file_name;
    s.line = number;
    if (s.value.empty()) {
      errors.push_back({file_name, number, s.name + " has no value"});
      return;
    }
    out.push_back(std::move(s));
  });
  return out;
}

LoadResult load_opendkim(const std::string& conf_path) {
  return load_opendkim(conf_path, read_file);
}

namespace {

// Mode: any of "s" (sign) and "v" (verify); opendkim signs and verifies
// when it is not set.
void read_mode(Loader& loader, OpenDkimConfig& cfg, std::vector<Error>& errors) {
  const auto* mode = loader.get("Mode");
  if (!mode) return;
  cfg.mode = mode->value;
  cfg.sign = cfg.verify = false;
  for (char c : mode->value) {
    if (c == 's' || c == 'S') {
      cfg.sign = true;
    } else if (c == 'v' || c == 'V') {
      cfg.verify = true;
    } else {
      errors.push_back(
          {mode->file, mode->line, "Mode \"" + mode->value + "\": only \"s\" and \"v\" are modes"});
      return;
    }
  }
}

void read_datasets(Loader& loader, OpenDkimConfig& cfg) {
  cfg.domain = loader.dataset("Domain", false);
  cfg.key_table = loader.dataset("KeyTable", false);
  cfg.signing_table = loader.dataset("SigningTable", false);
  if (auto internal = loader.dataset("InternalHosts", true)) {
    cfg.internal_hosts = std::move(*internal);
    cfg.internal_hosts_default = false;
  } else {
    std::vector<Error> none;
    cfg.internal_hosts = parse_dataset("127.0.0.1,::1", DatasetKind::kCsl, "default", none);
    cfg.internal_hosts.spec = std::string(kDefaultInternalSpec);
  }
  cfg.external_ignore_list = loader.dataset("ExternalIgnoreList", true);
  cfg.peer_list = loader.dataset("PeerList", true);
  cfg.mta = loader.dataset("MTA", false);
  cfg.macro_list = loader.dataset("MacroList", false);
}

// KeyTable values, and every key name the SigningTable refers to.
void check_tables(const OpenDkimConfig& cfg, std::vector<Error>& errors) {
  if (cfg.key_table) {
    for (const auto& e : cfg.key_table->entries) {
      if (!split_key_value(e.value)) {
        errors.push_back({e.file, e.line,
                          "KeyTable entry " + e.key + ": expected domain:selector:keyfile, got \"" +
                              e.value + "\""});
      }
    }
  }
  if (!cfg.signing_table) return;
  for (const auto& e : cfg.signing_table->entries) {
    const std::string_view name = key_name_of(e.value);
    if (name.empty()) {
      errors.push_back({e.file, e.line, "SigningTable entry " + e.key + " names no KeyTable key"});
    } else if (cfg.key_table && name != "%" && !cfg.key_table->find(name)) {
      errors.push_back({e.file, e.line,
                        "SigningTable entry " + e.key + " names key " + std::string(name) +
                            ", which is not in the KeyTable (" + cfg.key_table->spec + ")"});
    }
  }
}

}  // namespace

LoadResult load_opendkim(const std::string& conf_path, const FileReader& read) {
  LoadResult result;
  Loader loader(read, result);
  loader.read_conf(conf_path, "", 0, 0);
  if (!result.errors.empty()) return result;

  auto cfg = std::make_shared<OpenDkimConfig>();
  cfg->conf_path = conf_path;
  if (const auto* base = loader.get("BaseDirectory")) loader.set_base_dir(base->value);
  read_mode(loader, *cfg, result.errors);
  cfg->subdomains = loader.boolean("SubDomains").value_or(false);
  if (const auto* s = loader.get("Selector")) cfg->selector = s->value;
  if (const auto* s = loader.get("KeyFile")) cfg->key_file = s->value;
  read_datasets(loader, *cfg);
  check_tables(*cfg, result.errors);

  // Files read for data sets were appended by the loader.
  cfg->files = result.files;
  if (result.errors.empty()) result.config = std::move(cfg);
  return result;
}

}  // namespace sg::dkim
