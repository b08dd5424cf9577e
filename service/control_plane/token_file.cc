// Polling watcher for the token file.
#include "service/control_plane/token_file.h"

#include <sys/stat.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "service/secrets/secret_files.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::service {

absl::StatusOr<std::unique_ptr<TokenFile>> TokenFile::Open(
    const std::string& path, absl::Duration poll) {
  absl::StatusOr<std::string> token = ReadSecretFile(path);
  if (!token.ok()) return token.status();
  std::unique_ptr<TokenFile> file(new TokenFile(path, poll));
  {
    absl::MutexLock lock(&file->mu_);
    file->token_ = std::move(*token);
  }
  file->watcher_ = std::thread([f = file.get()] { f->Watch(); });
  return file;
}

TokenFile::TokenFile(std::string path, absl::Duration poll)
    : path_(std::move(path)), poll_(poll) {}

TokenFile::~TokenFile() {
  stop_.Notify();
  if (watcher_.joinable()) watcher_.join();
  absl::MutexLock lock(&mu_);
  crypto::SecureZero(token_.data(), token_.size());
}

std::string TokenFile::Current() const {
  absl::MutexLock lock(&mu_);
  return token_;
}

void TokenFile::SetListener(std::function<void()> listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

std::string TokenFile::Identity() const {
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

void TokenFile::Watch() {
  std::string seen = Identity();
  while (!stop_.WaitForNotificationWithTimeout(poll_)) {
    const std::string now = Identity();
    if (now.empty() || now == seen) continue;
    seen = now;
    absl::StatusOr<std::string> token = ReadSecretFile(path_);
    if (!token.ok()) {
      std::cerr << "snaptund: keeping the current SNAP token: "
                << token.status().message() << "\n";
      continue;
    }
    std::function<void()> listener;
    {
      absl::MutexLock lock(&mu_);
      if (*token == token_) continue;
      crypto::SecureZero(token_.data(), token_.size());
      token_ = std::move(*token);
      listener = listener_;
    }
    std::cerr << "snaptund: the SNAP token changed; registering again\n";
    if (listener) listener();
  }
}

}  // namespace snaptun::service
