// The bash completion script `snaptunctl completion bash` prints: commands,
// then the flags and the values of the flags that take a fixed set.
//   source <(snaptunctl completion bash)
#ifndef SNAPTUN_CLI_COMPLETION_H_
#define SNAPTUN_CLI_COMPLETION_H_

namespace snaptun::cli {

inline constexpr char kBashCompletion[] = R"(# bash completion for snaptunctl
_snaptunctl() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local commands="keygen pubkey open close get list watch authorize revoke identities gateway-info send recv bench version completion"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    return
  fi
  case "$cur" in
    --mode=*) COMPREPLY=($(compgen -W "snap wireguard" -- "${cur#--mode=}")); return ;;
    --role=*) COMPREPLY=($(compgen -W "client gateway" -- "${cur#--role=}")); return ;;
    --output=*) COMPREPLY=($(compgen -W "table json" -- "${cur#--output=}")); return ;;
    --format=*) COMPREPLY=($(compgen -W "lines raw hex" -- "${cur#--format=}")); return ;;
    --state=*) COMPREPLY=($(compgen -W "connecting established reconnecting closed" -- "${cur#--state=}")); return ;;
  esac
  local flags="--server= --token_file= --tls_ca_file= --tls_cert_file= --tls_key_file= --tls_server_name= --output= --timeout= --id= --peer= --data_plane= --mode= --control_plane_url= --connect_timeout= --keepalive= --label= --role= --state= --include_existing --ttl= --count= --format= --tunnels= --rate= --size= --window= --duration= --metrics_address= --out= --takeover"
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  compopt -o nospace 2>/dev/null
}
complete -F _snaptunctl snaptunctl
)";

}  // namespace snaptun::cli

#endif  // SNAPTUN_CLI_COMPLETION_H_
