// The known-answer vectors of design/TEST-VECTORS.md, shared by the core's
// tests: one complete handshake in both modes, transport packets and a
// cookie reply, all from fixed keys.
#ifndef SNAPTUN_TESTS_TUNNEL_CORE_VECTORS_H_
#define SNAPTUN_TESTS_TUNNEL_CORE_VECTORS_H_

namespace snaptun::core::vectors {

inline constexpr char kSpubI[] =
    "8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f";
inline constexpr char kSpubR[] =
    "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254";
inline constexpr char kEpubI[] =
    "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a";
inline constexpr char kEpubR[] =
    "675dd574ed7789310b3d2e7681f3790b466c773b1521fecf36577958371ea52f";
inline constexpr char kTimestamp[] = "400000006774858a00000000";
inline constexpr char kInit[] =
    "010000004433221179a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89"
    "af85a51af0225eb421886af8f54fb31289d49dcd82b0f6f3279d40d7cff913fece0c64ad"
    "226eef3320755b393b72f16842c8d7ee78a74e937c185e028ff4ecc16f2f65d11e485aef"
    "ab0840b7138673d254e0182fd8fcfe38d88334be463acdb4000000000000000000000000"
    "00000000";
inline constexpr char kRespSnap[] =
    "020000008877665544332211675dd574ed7789310b3d2e7681f3790b466c773b1521fecf"
    "36577958371ea52f7c385cf4b88cf940ace876100eaa96ca06eb091486d937545d9ffdde"
    "de749ca005166ca08fe9516203863cdc254ff90f1160b7d1000000000000000000000000"
    "00000000";
inline constexpr char kObservedSnap[] =
    "0400ca6c000000000000000000000000c0000207";
inline constexpr char kResp[] =
    "020000008877665544332211675dd574ed7789310b3d2e7681f3790b466c773b1521fecf"
    "36577958371ea52f936a200e204682140db61db618f92a24bf897d5a166590f128e5e7d1"
    "757abe0200000000000000000000000000000000";
inline constexpr char kTInitiatorSend[] =
    "8c467a49ee5feffc8b390fba6ff460b5d66abf66f5e4bf9e0a5612b256498238";
inline constexpr char kTInitiatorReceive[] =
    "eb356022624730ae787d7fccc635655d1b1b1fb7d81f299043b0ce85e3a3a4b4";
inline constexpr char kKeepaliveIToR[] =
    "04000000887766550000000000000000291241ac6c6d0b472543a7c56d5dbcd0";
inline constexpr char kDataRToI[] =
    "04000000443322110000000000000000e22f5c5ffaf1e0d2ac57ef0ffec8c36d4561a5a4"
    "fe7e8d0a517a9e1543aded09894112bdbb93da3ceaff35515395da06";
inline constexpr char kCookieReply[] =
    "0300000044332211bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1835df77"
    "1f357635bda4d4b892d145063fed041a752087aac27d7169f908d26d";
inline constexpr char kInitMac2WithCookie[] =
    "e9a32d832fc80e4bb2eaf1e121333879";

inline constexpr uint32_t kIndexI = 0x11223344;
inline constexpr uint32_t kIndexR = 0x55667788;

}  // namespace snaptun::core::vectors

#endif  // SNAPTUN_TESTS_TUNNEL_CORE_VECTORS_H_
