// Reading and creating secrets: the daemon's private key (base64, as
// `wg genkey` writes it; tunnel/crypto/key_text.h) and bearer tokens, read by
// the daemon, the control-plane client and snaptunctl. A secret file must not
// be readable by group or others (0600 or stricter) or it is refused with a
// message naming the fix; a missing private key file is generated with 0600
// permissions. Contents are zeroed once parsed and never logged.
#ifndef SNAPTUN_SERVICE_SECRETS_SECRET_FILES_H_
#define SNAPTUN_SERVICE_SECRETS_SECRET_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::service {

// The file's contents without surrounding whitespace.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// A file that is not secret (certificates, CA bundles), as it is.
absl::StatusOr<std::string> ReadPlainFile(const std::string& path);

// Loads the key at `path`, or creates one there when the file is missing.
absl::StatusOr<crypto::PrivateKey> LoadOrCreatePrivateKey(
    const std::string& path, bool* created = nullptr);

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_SECRETS_SECRET_FILES_H_
