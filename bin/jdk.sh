# Sourced by bin/lora4j and bin/test: finds a JDK >= 25 and exports JAVA_HOME.
# Order: $JAVA_HOME, the java on PATH, then the JDKs installed in the usual system places.

lora4j_java_major() { # prints the major version of the java at $1, or 0
  local v
  v=$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n 1)
  case "$v" in 1.*) v=${v#1.} ;; esac
  [[ "$v" =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}

lora4j_find_jdk() {
  local candidates=() c
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    c=$(readlink -f "$(command -v java)"); candidates+=("${c%/bin/java}")
  fi
  for c in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /Library/Java/JavaVirtualMachines/*/Contents/Home "$HOME"/.sdkman/candidates/java/*; do
    [[ -d "$c" ]] && candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    if [[ -x "$c/bin/java" && -x "$c/bin/javac" ]] && (( $(lora4j_java_major "$c/bin/java") >= 25 )); then
      export JAVA_HOME="$c"
      return 0
    fi
  done
  cat >&2 <<'MSG'
lora4j: error: no JDK 25 or newer found (looked at $JAVA_HOME, the java on PATH and /usr/lib/jvm).
Install one, for example Eclipse Temurin 25 (Debian/Ubuntu: the temurin-25-jdk package from the Adoptium
repository) or OpenJDK 25 (openjdk-25-jdk), then run this again or point JAVA_HOME at it.
MSG
  return 1
}
