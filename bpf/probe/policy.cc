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

// Puts `want` (one policy root's entries) into a map keyed by Key (whose
// `root` says which policy an entry belongs to), then removes that root's
// entries that are not wanted. Keys are compared as bytes: they have no padding.
template <typename Key>
bool SyncEntries(bpf_map* map, uint64_t root, const std::vector<Key>& want, std::string* error) {
  uint8_t one = 1;
  for (const auto& k : want) {
    if (bpf_map__update_elem(map, &k, sizeof(k), &one, sizeof(one), BPF_ANY)) {
      *error = std::string("cannot update ") + bpf_map__name(map) + ": " + strerror(errno);
      return false;
    }
  }
  std::vector<Key> stale;
  Key cur, next;
  void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    cur = next;
    prev = &cur;
    if (cur.root != root) continue;
    bool wanted = false;
    for (const auto& k : want) wanted = wanted || memcmp(&k, &cur, sizeof(Key)) == 0;
    if (!wanted) stale.push_back(cur);
  }
  for (const auto& k : stale) bpf_map__delete_elem(map, &k, sizeof(k), 0);
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
  for (const auto& [hash, value] : want) {
    vigil_allow_key k{root, hash};
    if (bpf_map__update_elem(map, &k, sizeof(k), &value, sizeof(value), BPF_ANY)) {
      *error = std::string("cannot update ") + bpf_map__name(map) + ": " + strerror(errno);
      return false;
    }
  }
  std::vector<vigil_allow_key> stale;
  vigil_allow_key cur, next;
  void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    cur = next;
    prev = &cur;
    if (cur.root == root && !want.count(cur.hash)) stale.push_back(cur);
  }
  for (const auto& k : stale) bpf_map__delete_elem(map, &k, sizeof(k), 0);
  return true;
}

// Addresses learned from a removed policy's answers.
template <typename Key>
void DropRoot(bpf_map* map, uint64_t root) {
  std::vector<Key> stale;
  Key cur, next;
  void* prev = nullptr;
  while (bpf_map__get_next_key(map, prev, &next, sizeof(next)) == 0) {
    cur = next;
    prev = &cur;
    if (cur.root == root) stale.push_back(cur);
  }
  for (const auto& k : stale) bpf_map__delete_elem(map, &k, sizeof(k), 0);
}

}  // namespace

void PolicyMaps::Publish() {
  skel_->bss->policies_active = flags_.size();
  __atomic_add_fetch(&skel_->bss->policy_gen, 1, __ATOMIC_SEQ_CST);
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
    exec.push_back({root, Fnv1a(LeafFirst(path))});
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
                   (p.write() ? VIGIL_ENFORCE_WRITE : 0);
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
  } else {
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
    if (bpf_map__update_elem(skel_->maps.protected_leaf, &i, sizeof(i), &v, sizeof(v), BPF_ANY)) {
      *error = std::string("cannot update protected_leaf: ") + strerror(errno);
      return false;
    }
  }
  *detail = std::to_string(p.prefixes_size()) + " protected paths";
  return true;
}

}  // namespace vigil
