// Permission checks and key generation.
#include "service/secrets/secret_files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tunnel/crypto/key_text.h"
#include "tunnel/crypto/random.h"

namespace snaptun::service {

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot stat ", path));
  }
  // Owner-only (0600/0400). Group read is allowed only for the daemon's own
  // group: that is how Kubernetes mounts secrets for a non-root pod
  // (fsGroup, mode 0440).
  const bool group_ok = (st.st_mode & 070) == 0 ||
                        ((st.st_mode & 030) == 0 && st.st_gid == getegid());
  if ((st.st_mode & 007) != 0 || !group_ok) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrCat(
        path, " is readable by group or others; run: chmod 600 ", path));
  }
  std::string contents;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
    contents.append(buffer, static_cast<size_t>(n));
    if (contents.size() > (1 << 20)) break;
  }
  crypto::SecureZero(buffer, sizeof(buffer));
  close(fd);
  const absl::string_view stripped = absl::StripAsciiWhitespace(contents);
  std::string out(stripped);
  crypto::SecureZero(contents.data(), contents.size());
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  }
  return out;
}

absl::StatusOr<std::string> ReadPlainFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::StatusOr<crypto::PrivateKey> LoadOrCreatePrivateKey(
    const std::string& path, bool* created) {
  if (created != nullptr) *created = false;
  if (access(path.c_str(), F_OK) == 0) {
    absl::StatusOr<std::string> text = ReadSecretFile(path);
    if (!text.ok()) return text.status();
    absl::StatusOr<crypto::PrivateKey> key = crypto::DecodePrivateKey(*text);
    crypto::SecureZero(text->data(), text->size());
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", key.status().message()));
    }
    return key;
  }
  crypto::PrivateKey key;
  crypto::SystemRandom().Fill(absl::MakeSpan(key.data(), 32));
  std::string text = crypto::EncodeKey(key.data()) + "\n";
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    crypto::SecureZero(text.data(), text.size());
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  const bool written =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  crypto::SecureZero(text.data(), text.size());
  close(fd);
  if (!written) {
    unlink(path.c_str());
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  if (created != nullptr) *created = true;
  return key;
}

}  // namespace snaptun::service
