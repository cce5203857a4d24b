#include "policy.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <vector>

extern "C" {
#include "maps.h"
}
#include "vigil.skel.h"

namespace vigil {

uint64_t Fnv1a(const std::string& bytes) {
  uint64_t h = VIGIL_FNV_OFFSET;
  for (unsigned char c : bytes) h = (h ^ c) * VIGIL_FNV_PRIME;
  return h;
}

std::string LeafFirst(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += *it;
    out += '\0';
  }
  return out;
}

namespace {

// Writes one entry, saying which map refused it.
template <typename Key, typename Value>
bool Put(bpf_map* map, const Key& k, const Value& v, std::string* error) {
  if (bpf_map__update_elem(map, &k, sizeof(k), &v, sizeof(v), BPF_ANY) == 0) return true;
  *error = std::string("cannot update ") + bpf_map__name(map) + ": " + strerror(errno);
  return false;
}

// Removes the entries of policy `root` (keys carry their root) that
// `keep` does not want. Collected first: deleting while walking would
// restart get_next_key.
template <typename Key, typename Keep>
void DeleteStale(bpf_map* map, uint64_t root, Keep keep) {
  std::vector<Key> stale;
  Key cur, next;
  void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    cur = next;
    prev = &cur;
    if (cur.root == root && !keep(cur)) stale.push_back(cur);
  }
  for (const auto& k : stale) bpf_map__delete_elem(map, &k, sizeof(k), 0);
}

// Puts `want` (one policy root's entries) into a map keyed by Key (whose
// `root` says which policy an entry belongs to), then removes that root's
// entries that are not wanted. Keys are compared as bytes: they have no padding.
template <typename Key>
bool SyncEntries(bpf_map* map, uint64_t root, const std::vector<Key>& want, std::string* error) {
  const uint8_t one = 1;
  for (const auto& k : want)
    if (!Put(map, k, one, error)) return false;
  DeleteStale<Key>(map, root, [&](const Key& cur) {
    return std::any_of(want.begin(), want.end(), [&](const Key& k) { return memcmp(&k, &cur, sizeof(Key)) == 0; });
  });
  return true;
}

template <typename Key, size_t N>
bool ConnectKey(uint64_t root, const v1::NetAllow& a, Key* k, std::string* error) {
  memset(k, 0, sizeof(*k));
  if (a.address().size() != N) {
    *error = "connect allow entry: address of " + std::to_string(a.address().size()) + " bytes for family " +
             std::to_string(a.family());
    return false;
  }
  if (a.prefix_len() > N * 8) {
    *error = "connect allow entry: prefix /" + std::to_string(a.prefix_len()) + " too long";
    return false;
  }
  if (a.port() > 65535) {
    *error = "connect allow entry: port " + std::to_string(a.port());
    return false;
  }
  k->prefixlen = VIGIL_CONNECT_FIXED_BITS + a.prefix_len();
  k->root = root;
  k->protocol = a.protocol() == v1::PROTOCOL_UDP ? 17 : 6;
  uint16_t port = htons(static_cast<uint16_t>(a.port()));
  memcpy(k->port, &port, 2);
  memcpy(k->addr, a.address().data(), N);
  // Bits past the prefix must be zero for the trie to treat entries alike.
  for (size_t bit = a.prefix_len(); bit < N * 8; bit++) k->addr[bit / 8] &= ~(0x80 >> (bit % 8));
  return true;
}

// A name's key in dns_allow (maps.h): FNV-1a over its lower-case bytes,
// last to first; "*.example.com" as ".example.com".
bool NameHash(const std::string& name, uint64_t* out, std::string* error) {
  std::string n = name;
  if (n.size() > 2 && n[0] == '*' && n[1] == '.') n = n.substr(1);
  if (!n.empty() && n.back() == '.') n.pop_back();
  if (n.empty() || n.size() > 253 || n.find('*') != std::string::npos || n.find("..") != std::string::npos) {
    *error = "connect name '" + name + "' is not a DNS name or a *.domain wildcard";
    return false;
  }
  uint64_t h = VIGIL_FNV_OFFSET;
  for (auto it = n.rbegin(); it != n.rend(); ++it) {
    unsigned char c = *it;
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    h = (h ^ c) * VIGIL_FNV_PRIME;
  }
  *out = h;
  return true;
}

// One root's allowed names into dns_allow, then its stale ones out.
bool SyncNames(bpf_map* map, uint64_t root, const std::map<uint64_t, vigil_dns_allow>& want, std::string* error) {
  for (const auto& [hash, value] : want)
    if (!Put(map, vigil_allow_key{root, hash}, value, error)) return false;
  DeleteStale<vigil_allow_key>(map, root, [&](const vigil_allow_key& cur) { return want.count(cur.hash) > 0; });
  return true;
}

// Addresses learned from a removed policy's answers.
template <typename Key>
void DropRoot(bpf_map* map, uint64_t root) {
  DeleteStale<Key>(map, root, [](const Key&) { return false; });
}

}  // namespace

void PolicyMaps::Publish() {
  skel_->bss->policies_active = flags_.size();
  gen_ = __atomic_add_fetch(&skel_->bss->policy_gen, 1, __ATOMIC_SEQ_CST);
}

namespace {

template <typename T>
std::string Bytes(const T& v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof(v));
}

uint64_t RootAt(const std::string& key, size_t offset) {
  uint64_t root = 0;
  if (key.size() >= offset + sizeof(root)) memcpy(&root, key.data() + offset, sizeof(root));
  return root;
}

// How an entry is named in a finding.
std::string Describe(const std::string& map, const std::string& key) {
  if (map == "policies") return "cgroup " + std::to_string(RootAt(key, 0));
  if (map == "protected_paths" || map == "protected_leaf") {
    uint32_t i = 0;
    memcpy(&i, key.data(), std::min(key.size(), sizeof(i)));
    return "entry " + std::to_string(i);
  }
  return "policy of cgroup " + std::to_string(RootAt(key, map.rfind("connect", 0) == 0 ? 4 : 0));
}

std::string Hex(const std::string& v) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < v.size() && i < 16; i++) {
    out += digits[(unsigned char)v[i] >> 4];
    out += digits[(unsigned char)v[i] & 15];
  }
  return out + (v.size() > 16 ? "..." : "");
}

}  // namespace

void PolicyMaps::Remember(const char* map, size_t root_offset, uint64_t root, const Entries& want) {
  Entries& e = written_[map];
  for (auto it = e.begin(); it != e.end();) it = RootAt(it->first, root_offset) == root ? e.erase(it) : std::next(it);
  for (const auto& kv : want) e.insert(kv);
}

// One map against what was written: entries added by someone else are
// removed, changed ones and removed ones written again. One finding per
// map, naming the first difference and counting the rest.
bool PolicyMaps::CheckMap(::bpf_map* map, const Entries& want, Findings* out) {
  const std::string name = bpf_map__name(map);
  const size_t ks = bpf_map__key_size(map), vs = bpf_map__value_size(map);
  const bool array = bpf_map__type(map) == BPF_MAP_TYPE_ARRAY;
  std::string key(ks, '\0'), next(ks, '\0'), value(vs, '\0');
  std::vector<std::string> extra;
  size_t added = 0, changed = 0, missing = 0;
  Tampering first{"map", name, "", "", "", true, ""};
  auto note = [&](const std::string& k, const std::string& found, const std::string& expected) {
    if (!first.field.empty()) return;
    first.field = Describe(name, k);
    first.found = found;
    first.expected = expected;
  };
  std::map<std::string, bool> seen;
  bool has_prev = false;
  while (bpf_map__get_next_key(map, has_prev ? key.data() : nullptr, next.data(), ks) == 0) {
    key = next;
    has_prev = true;
    if (bpf_map__lookup_elem(map, key.data(), ks, value.data(), vs, 0)) continue;
    auto it = want.find(key);
    if (it == want.end()) {
      if (array && value == std::string(vs, '\0')) continue;  // an unused slot
      extra.push_back(key);
      added++;
      note(key, "an entry the probe did not write (" + Hex(value) + ")", "none");
      continue;
    }
    seen[key] = true;
    if (it->second != value) {
      changed++;
      note(key, "value " + Hex(value), "value " + Hex(it->second));
      if (bpf_map__update_elem(map, key.data(), ks, it->second.data(), vs, BPF_ANY)) first.restored = false;
    }
  }
  for (const auto& k : extra) {
    std::string zero(vs, '\0');
    int err = array ? bpf_map__update_elem(map, k.data(), ks, zero.data(), vs, BPF_ANY) : bpf_map__delete_elem(map, k.data(), ks, 0);
    if (err) first.restored = false;
  }
  for (const auto& [k, v] : want) {
    if (seen.count(k)) continue;
    missing++;
    note(k, "missing", "value " + Hex(v));
    if (bpf_map__update_elem(map, k.data(), ks, v.data(), vs, BPF_ANY)) first.restored = false;
  }
  if (!added && !changed && !missing) return true;
  first.found += " (" + std::to_string(added) + " added, " + std::to_string(changed) + " changed, " + std::to_string(missing) +
                 " removed)";
  if (!first.restored) first.error = std::string("cannot write ") + name + ": " + strerror(errno);
  out->push_back(first);
  return false;
}

void PolicyMaps::CheckState(bool allow_lists, Findings* out, std::vector<std::string>* watched) {
  std::lock_guard<std::mutex> lock(mu_);
  bool changed = false;
  // The switches: policies_active = 0 turns every check off.
  watched->push_back("global policies_active");
  watched->push_back("global policy_gen");
  uint32_t active = __atomic_load_n(&skel_->bss->policies_active, __ATOMIC_RELAXED);
  if (active != flags_.size()) {
    out->push_back({"global", "policies_active", "policies_active", std::to_string(active), std::to_string(flags_.size()), true, ""});
    skel_->bss->policies_active = flags_.size();
    changed = true;
  }
  uint32_t gen = __atomic_load_n(&skel_->bss->policy_gen, __ATOMIC_RELAXED);
  if (gen != gen_) {
    out->push_back({"global", "policy_gen", "policy_gen", std::to_string(gen), std::to_string(gen_), true, ""});
    changed = true;
  }
  Entries policies;
  for (const auto& [root, flags] : flags_) policies[Bytes(root)] = Bytes(flags);
  watched->push_back("map policies");
  changed |= !CheckMap(skel_->maps.policies, policies, out);
  for (auto* m : {skel_->maps.protected_paths, skel_->maps.protected_leaf}) {
    watched->push_back(std::string("map ") + bpf_map__name(m));
    changed |= !CheckMap(m, written_[bpf_map__name(m)], out);
  }
  if (allow_lists) {
    for (auto* m : {skel_->maps.exec_allow, skel_->maps.write_allow, skel_->maps.connect4_allow, skel_->maps.connect6_allow,
                    skel_->maps.dns_allow}) {
      watched->push_back(std::string("map ") + bpf_map__name(m));
      changed |= !CheckMap(m, written_[bpf_map__name(m)], out);
    }
  }
  // Answers the kernel cached per cgroup (policy_cache) are recomputed
  // after every check, so an answer forged there lasts one interval at
  // most, and none computed from a tampered state survives its repair.
  (void)changed;
  Publish();
}

bool PolicyMaps::Set(const v1::SetPolicy& p, std::string* error, std::string* detail) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t root = p.root_cgroup_id();
  if (root == 0) {
    *error = "policy without a root cgroup id";
    return false;
  }
  std::vector<vigil_allow_key> exec, write;
  for (const auto& path : p.exec_allow()) {
    if (path.empty() || path[0] != '/') {
      *error = "exec allow entry '" + path + "' is not an absolute path";
      return false;
    }
    // A path with identities is allowed by them alone (events.h: the
    // path's hash folded with inode and device, as enforce.bpf.h does).
    bool by_identity = false;
    for (const auto& id : p.exec_identity()) by_identity = by_identity || id.path() == path;
    uint64_t h = Fnv1a(LeafFirst(path));
    if (!by_identity) {
      exec.push_back({root, h});
      continue;
    }
    for (const auto& id : p.exec_identity()) {
      if (id.path() != path || (id.dev() == 0 && id.ino() == 0)) continue;
      exec.push_back({root, ((((h ^ id.ino()) * VIGIL_FNV_PRIME) ^ id.dev()) * VIGIL_FNV_PRIME ^ uint64_t(id.ctime_sec() * 1000000000LL + id.ctime_nsec())) * VIGIL_FNV_PRIME});
    }
  }
  for (const auto& path : p.write_allow()) {
    if (path.empty() || path[0] != '/') {
      *error = "write allow entry '" + path + "' is not an absolute path";
      return false;
    }
    // As passed (the syscall-entry check) and leaf first (the security
    // hooks walk dentries, bpf/deny.bpf.h).
    write.push_back({root, Fnv1a(path)});
    write.push_back({root, Fnv1a(LeafFirst(path))});
  }
  std::vector<vigil_connect4_key> c4;
  std::vector<vigil_connect6_key> c6;
  for (const auto& a : p.connect_allow()) {
    if (a.family() == 2) {
      vigil_connect4_key k;
      if (!ConnectKey<vigil_connect4_key, 4>(root, a, &k, error)) return false;
      c4.push_back(k);
    } else if (a.family() == 10) {
      vigil_connect6_key k;
      if (!ConnectKey<vigil_connect6_key, 16>(root, a, &k, error)) return false;
      c6.push_back(k);
    } else {
      *error = "connect allow entry of family " + std::to_string(a.family());
      return false;
    }
  }
  // Names: up to VIGIL_DNS_PORTS (protocol, port) pairs each; a name
  // connected to on more ports than that is allowed on any port of its
  // protocols.
  std::map<uint64_t, std::set<std::pair<uint8_t, uint16_t>>> ports;
  for (const auto& n : p.connect_names()) {
    uint64_t h;
    if (!NameHash(n.name(), &h, error)) return false;
    if (n.port() > 65535) {
      *error = "connect name '" + n.name() + "': port " + std::to_string(n.port());
      return false;
    }
    ports[h].insert({n.protocol() == v1::PROTOCOL_UDP ? 17 : 6, htons(static_cast<uint16_t>(n.port()))});
  }
  std::map<uint64_t, vigil_dns_allow> names;
  for (auto& [h, set] : ports) {
    if (set.size() > VIGIL_DNS_PORTS) {
      std::set<std::pair<uint8_t, uint16_t>> any;
      for (const auto& pp : set) any.insert({pp.first, 0});
      set = any;
    }
    vigil_dns_allow v;
    memset(&v, 0, sizeof(v));
    size_t i = 0;
    for (const auto& [proto, port] : set) {
      v.protocol[i] = proto;
      v.port[i] = port;
      i++;
    }
    names[h] = v;
  }
  uint32_t flags = (p.exec() ? VIGIL_ENFORCE_EXEC : 0) | (p.connect() ? VIGIL_ENFORCE_CONNECT : 0) |
                   (p.write() ? VIGIL_ENFORCE_WRITE : 0) | (p.bpf() ? VIGIL_ENFORCE_BPF : 0);
  // Allow lists first; an empty policy removes them after the switch is off.
  if (flags) {
    if (!SyncEntries(skel_->maps.exec_allow, root, exec, error) || !SyncEntries(skel_->maps.write_allow, root, write, error) ||
        !SyncEntries(skel_->maps.connect4_allow, root, c4, error) ||
        !SyncEntries(skel_->maps.connect6_allow, root, c6, error) || !SyncNames(skel_->maps.dns_allow, root, names, error))
      return false;
    if (bpf_map__update_elem(skel_->maps.policies, &root, sizeof(root), &flags, sizeof(flags), BPF_ANY)) {
      *error = std::string("cannot update policies: ") + strerror(errno);
      return false;
    }
    flags_[root] = flags;
    Entries e, w, k4, k6, dn;
    uint8_t one = 1;
    for (const auto& k : exec) e[Bytes(k)] = Bytes(one);
    for (const auto& k : write) w[Bytes(k)] = Bytes(one);
    for (const auto& k : c4) k4[Bytes(k)] = Bytes(one);
    for (const auto& k : c6) k6[Bytes(k)] = Bytes(one);
    for (const auto& [hash, value] : names) dn[Bytes(vigil_allow_key{root, hash})] = Bytes(value);
    Remember("exec_allow", 0, root, e);
    Remember("write_allow", 0, root, w);
    Remember("connect4_allow", 4, root, k4);
    Remember("connect6_allow", 4, root, k6);
    Remember("dns_allow", 0, root, dn);
  } else {
    for (const char* m : {"exec_allow", "write_allow", "dns_allow"}) Remember(m, 0, root, {});
    for (const char* m : {"connect4_allow", "connect6_allow"}) Remember(m, 4, root, {});
    bpf_map__delete_elem(skel_->maps.policies, &root, sizeof(root), 0);
    flags_.erase(root);
  }
  Publish();
  if (!flags) {
    SyncEntries<vigil_allow_key>(skel_->maps.exec_allow, root, {}, error);
    SyncEntries<vigil_allow_key>(skel_->maps.write_allow, root, {}, error);
    SyncEntries<vigil_connect4_key>(skel_->maps.connect4_allow, root, {}, error);
    SyncEntries<vigil_connect6_key>(skel_->maps.connect6_allow, root, {}, error);
    SyncNames(skel_->maps.dns_allow, root, {}, error);
    DropRoot<vigil_dns4_key>(skel_->maps.dns4_allowed, root);
    DropRoot<vigil_dns6_key>(skel_->maps.dns6_allowed, root);
  }
  *detail = "policy for cgroup " + std::to_string(root) + (flags ? "" : " removed") + ": " + std::to_string(exec.size()) +
            " executables, " + std::to_string(c4.size() + c6.size()) + " destinations, " +
            std::to_string(names.size()) + " names, " + std::to_string(write.size() / 2) +
            " writable paths";
  return true;
}

bool PolicyMaps::SetProtected(const v1::SetProtectedPaths& p, std::string* error, std::string* detail) {
  std::lock_guard<std::mutex> lock(mu_);
  if (p.prefixes_size() > VIGIL_PROTECTED_MAX) {
    *error = "at most " + std::to_string(VIGIL_PROTECTED_MAX) + " protected paths, got " + std::to_string(p.prefixes_size());
    return false;
  }
  for (const auto& prefix : p.prefixes()) {
    if (prefix.empty() || prefix[0] != '/' || prefix.size() > VIGIL_PROTECTED_WORDS * 8) {
      *error = "protected path '" + prefix + "' must be absolute and at most 64 bytes";
      return false;
    }
  }
  for (uint32_t i = 0; i < VIGIL_PROTECTED_MAX; i++) {
    vigil_protected_prefix v;
    memset(&v, 0, sizeof(v));
    if (i < static_cast<uint32_t>(p.prefixes_size())) {
      const std::string& s = p.prefixes(i);
      v.len = s.size();
      memcpy(v.words, s.data(), s.size());
    }
    written_["protected_paths"][Bytes(i)] = Bytes(v);
    if (bpf_map__update_elem(skel_->maps.protected_paths, &i, sizeof(i), &v, sizeof(v), BPF_ANY)) {
      *error = std::string("cannot update protected_paths: ") + strerror(errno);
      return false;
    }
    // Leaf first for the security hooks: "/etc/" → "etc\0", whole
    // components (the prefix is taken to end at a component).
    memset(&v, 0, sizeof(v));
    if (i < static_cast<uint32_t>(p.prefixes_size())) {
      const std::string leaf = LeafFirst(p.prefixes(i));
      v.len = std::min<size_t>(leaf.size(), VIGIL_PROTECTED_WORDS * 8);
      memcpy(v.words, leaf.data(), v.len);
    }
    written_["protected_leaf"][Bytes(i)] = Bytes(v);
    if (bpf_map__update_elem(skel_->maps.protected_leaf, &i, sizeof(i), &v, sizeof(v), BPF_ANY)) {
      *error = std::string("cannot update protected_leaf: ") + strerror(errno);
      return false;
    }
  }
  *detail = std::to_string(p.prefixes_size()) + " protected paths";
  return true;
}

}  // namespace vigil
