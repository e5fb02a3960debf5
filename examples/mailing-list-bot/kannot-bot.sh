#!/bin/sh
# A mailing-list bot step: check a patch series (an mbox, as `b4 am -o - MSGID` or public-inbox
# delivers it) against a kernel tree, and print a reply to send to the author, or nothing.
#
#   kannot-bot.sh TREE SERIES.mbox > reply.eml && [ -s reply.eml ] && sendmail -t < reply.eml
#
# Exit status: 0 nothing to report (no output), 1 a reply was printed, 2 kannot could not run
# (the error is on stderr; the bot should not reply).
set -u
tree=${1:?usage: kannot-bot.sh TREE SERIES.mbox}
mbox=${2:?usage: kannot-bot.sh TREE SERIES.mbox}

report=$(kannot check --root "$tree" --patch "$mbox" --format checkpatch --mailback --quiet)
rc=$?
[ "$rc" -eq 0 ] && exit 0
[ "$rc" -ne 1 ] && { echo "kannot-bot: kannot failed (exit $rc) on $mbox" >&2; exit 2; }

# reply to the first message of the series (the cover letter or patch 1)
header() { sed -n "/^\$/q; s/^$1: *//Ip" "$mbox" | head -n 1; }
subject=$(header Subject)
msgid=$(header Message-Id)
from=$(header From)

printf 'To: %s\n' "$from"
printf 'Subject: Re: %s\n' "$subject"
[ -n "$msgid" ] && printf 'In-Reply-To: %s\nReferences: %s\n' "$msgid" "$msgid"
printf '\n'
printf 'Hi,\n\nkannot (a source-level check of noinstr, notrace and NOKPROBE code) found calls that this\n'
printf 'series makes new. Each can be traced, kprobed or instrumented where that is not allowed;\n'
printf '`kannot explain CODE` says why and how to fix it, and a call that is fine can be marked\n'
printf 'with /* kannot: allow CODE <reason> */.\n\n'
printf '%s\n' "$report"
exit 1
