// The SNAP token, read from a file (0600, or 0440 for the daemon's group)
// and watched: Kubernetes rotates a mounted Secret by swapping the file
// behind a symlink, so the watcher polls the path's identity (inode, size,
// modification time) and re-reads it when that changes. A new token value
// is announced to the listener. The token is zeroed when replaced and
// never logged.
#ifndef SNAPTUN_SERVICE_CONTROL_PLANE_TOKEN_FILE_H_
#define SNAPTUN_SERVICE_CONTROL_PLANE_TOKEN_FILE_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace snaptun::service {

class TokenFile {
 public:
  static absl::StatusOr<std::unique_ptr<TokenFile>> Open(
      const std::string& path, absl::Duration poll = absl::Seconds(1));
  ~TokenFile();

  std::string Current() const;
  // Called on the watcher thread after the token changed.
  void SetListener(std::function<void()> listener);

 private:
  TokenFile(std::string path, absl::Duration poll);
  void Watch();
  std::string Identity() const;

  const std::string path_;
  const absl::Duration poll_;
  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  std::function<void()> listener_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread watcher_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CONTROL_PLANE_TOKEN_FILE_H_
