// Reading a daemon's /metrics in tests: one HTTP GET with libcurl, and the
// value of one sample line.
#ifndef SNAPTUN_TESTS_TESTING_SCRAPE_H_
#define SNAPTUN_TESTS_TESTING_SCRAPE_H_

#include <string>

namespace snaptun::testing {

// GET http://127.0.0.1:port/path; status 0 when it did not answer in 10 s.
long HttpGet(int port, const std::string& path, std::string* body);

// The value of one sample line of a scrape ("name{labels}" exactly as the
// exposition writes it), or -1.
double Sample(const std::string& scrape, const std::string& series);

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_SCRAPE_H_
