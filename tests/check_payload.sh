#!/bin/sh
# check_payload.sh - end-to-end test of `pcapdex carve --payload`: pcapgen
# tcpstream writes TCP sessions with retransmissions, reordering, overlaps,
# sequence wraparound and (in one session) a gap in each direction, plus the
# exact bytes each side sent.  Every flow is indexed and carved with
# --payload; its streams must equal the expected bytes (for a gap, the
# expected bytes with the gap cut out, since gaps are not filled) and its
# JSON summary must list exactly the gaps the generator made.
# Usage: tests/check_payload.sh BUILD_DIR.  Ends with "payload: N passed, N failed".
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/testlib.sh"

# info FILE KEY: the value of KEY in a pcapgen .info file.
info() { awk -F '\t' -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# without_gaps EXP INFO DIR OUT: EXP with the bytes of DIR's gaps cut out.
without_gaps() {
    pos=0
    : >"$4"
    for g in $(awk -F '\t' -v d="$3" '$1 == "gap" && $2 == d { print $3 ":" $4 }' "$2" | sort -t: -k1,1n); do
        off=${g%:*} len=${g#*:}
        tail -c +$((pos + 1)) "$1" | head -c $((off - pos)) >>"$4"
        pos=$((off + len))
    done
    tail -c +$((pos + 1)) "$1" >>"$4"
}

# json_gaps JSON DIR: the gaps the summary lists for DIR, one "OFFSET LEN" a line.
json_gaps() {
    python3 -c '
import json, sys
with open(sys.argv[1]) as f:
    s = json.load(f)
for g in s[sys.argv[2]]["gaps"]:
    print(g["offset"], g["length"])
' "$1" "$2"
}

# ---- fixtures ---------------------------------------------------------------
if [ ! -x "$GEN" ]; then
    make -C "$TOP" BUILD="$BUILD" "$BUILD/pcapgen" >"$T/make.log" 2>&1 ||
        { bad build_pcapgen "$(tail -n 5 "$T/make.log")"; finish payload; }
fi
[ -x "$PDX" ] || { bad pcapdex "$PDX is not built"; finish payload; }
command -v sqlite3 >/dev/null 2>&1 || { bad sqlite3 "sqlite3 not found"; finish payload; }
command -v python3 >/dev/null 2>&1 || { bad python3 "python3 not found"; finish payload; }

"$GEN" tcpstream -o "$T/s.pcap" --expect "$T/exp" >"$T/gen.log" 2>&1 ||
    { bad gen_tcpstream "$(head -c 300 "$T/gen.log")"; finish payload; }
"$PDX" index --db "$T/db" "$T/s.pcap" >"$T/index.log" 2>&1 ||
    { bad index "$(head -c 300 "$T/index.log")"; finish payload; }

sessions=$(for f in "$T"/exp/*.info; do basename "$f" .info; done | sort -n)
nsess=$(echo "$sessions" | wc -w)
nflows=$(sqlite3 "$T/db" 'select count(*) from flows')
if [ "$nflows" -eq "$nsess" ]; then ok flow_count; else bad flow_count "$nflows flows, $nsess sessions"; fi

# ---- one carve per flow -----------------------------------------------------
mkdir -p "$T/out"
for n in $sessions; do
    inf="$T/exp/$n.info"
    cport=$(info "$inf" client_port)
    sport=$(info "$inf" server_port)
    name="session$n"
    id=$(sqlite3 "$T/db" "select id from flows where proto = 6 and src_port = $cport and dst_port = $sport")
    if [ -z "$id" ] || [ "$(echo "$id" | wc -l)" -ne 1 ]; then
        bad "${name}_flow" "no single flow for client port $cport, server port $sport: '$id'"
        continue
    fi
    if ! "$PDX" carve --db "$T/db" --payload "$T/out" "$id" >"$T/carve.out" 2>"$T/carve.err"; then
        bad "${name}_carve" "exit $?: $(head -c 300 "$T/carve.err")"
        continue
    fi
    ok "${name}_carve"
    json="$T/out/$id.json"
    if [ -f "$json" ] && json_gaps "$json" c2s >/dev/null 2>"$T/json.err"; then
        ok "${name}_json"
    else
        bad "${name}_json" "no valid $id.json: $(head -c 300 "$T/json.err" 2>/dev/null)"
        json=
    fi
    for d in c2s s2c; do
        exp="$T/exp/$n.$d"
        want="$T/want.$d"
        without_gaps "$exp" "$inf" "$d" "$want"
        got="$T/out/$id.$d"
        if [ ! -f "$got" ]; then
            bad "${name}_$d" "$id.$d not written"
        elif cmp -s "$got" "$want"; then
            ok "${name}_$d"
        else
            bad "${name}_$d" "$(wc -c <"$got") bytes, wanted $(wc -c <"$want"): $(cmp "$got" "$want" 2>&1 | head -n 1)"
        fi
        [ -n "$json" ] || continue
        wgaps=$(awk -F '\t' -v d="$d" '$1 == "gap" && $2 == d { print $3, $4 }' "$inf" | sort -n)
        ggaps=$(json_gaps "$json" "$d" 2>&1)
        if [ "$ggaps" = "$wgaps" ]; then
            ok "${name}_${d}_gaps"
        else
            bad "${name}_${d}_gaps" "listed '$(printf '%s' "$ggaps" | tr '\n' ';')', wanted '$(printf '%s' "$wgaps" | tr '\n' ';')'"
        fi
    done
done

finish payload
