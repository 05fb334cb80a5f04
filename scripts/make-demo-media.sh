#!/usr/bin/env bash
# Regenerates every media file of the demo courses from text committed in the repo.
#
#   scripts/make-demo-media.sh                 # every course
#   scripts/make-demo-media.sh electrician-safety ...   # only these courses
#   scripts/make-demo-media.sh --check         # check every course is well formed (needs python3)
#   scripts/make-demo-media.sh --pinyin FILE   # show the pinyin the voice will read, to catch
#                                              # wrong readings of polyphones (多音字)
#
# Not run by the build: the media under assets/courses/<c>/media/ are committed. Authors run it
# after editing anything under assets/courses/<c>/media-src/. Inputs (see assets/README.md):
#
#   media-src/<name>.mvg         ImageMagick vector drawing          -> media/<name>.png
#   media-src/<name>.card.txt    line 1 title, then one line per item -> media/<name>.png
#   media-src/<name>.video/NN.txt  one slide each: line 1 title, body lines, a line "---",
#                                then the narration for that slide  -> media/<name>.mp4
#                                (a body of one line "@image <png in media/>" shows that picture)
#   media-src/<name>.audio.txt   narration, paragraphs split by blank lines -> media/<name>.mp3
#
# Needs (Debian): apt-get install -y --no-install-recommends imagemagick espeak-ng ffmpeg
#                 fonts-wqy-microhei
# Every output is checked: length with ffprobe, loudness with volumedetect and gaps with
# silencedetect (no silent or half-said narration).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
COURSES="$ROOT/assets/courses"
FONT=${FONT:-/usr/share/fonts/truetype/wqy/wqy-microhei.ttc}
# espeak-ng 1.51 (Debian 12): voice "cmn" hands every syllable with a tone digit to its English
# rules and says "ni three hao three"; "cmn-latn-pinyin" is the same Mandarin voice without that
# rule, and it also lets a narration spell a polyphone in pinyin (see fix_pron).
VOICE=${VOICE:-cmn-latn-pinyin}
SPEED=${SPEED:-135}        # words per minute; a Chinese syllable counts as a word
PITCH=${PITCH:-50}
VIDEO_MIN=30 VIDEO_MAX=90 AUDIO_MIN=30 AUDIO_MAX=120
SLIDE_W=640 SLIDE_H=360

die() { echo "make-demo-media: $*" >&2; exit 1; }
need_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "missing $tool (see the header of this script)"
  done
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Readings the voice gets wrong, spelled in pinyin with the tone digit: polyphones, the tone changes
# of 一 and 不 before another syllable, and telephone numbers
# read digit by digit the way Chinese speakers say them (1 = yao1). 地 is always read di4, so a
# narration must not use it as the adverb particle (慢慢地): write 慢慢 instead.
fix_pron() {
  sed -e 's/120/yao1二零/g; s/110/yao1yao1零/g; s/119/yao1yao1九/g; s/95598/九五五九八/g' \
      -e 's/了解/liao3解/g; s/地/di4/g; s/着火/zhao2火/g; s/干活/gan4活/g; s/为了/wei4了/g' \
      -e 's/行为/行wei2/g; s/成为/成wei2/g; s/作为/作wei2/g; s/认为/认wei2/g; s/因为/因wei4/g' \
      -e 's/得到/de2到/g; s/觉得/jue2de5/g; s/还是/hai2是/g; s/还要/hai2要/g; s/还有/hai2有/g' \
      -e 's/第一/第yi1/g; s/一一/yi1yi1/g' \
      -e 's/一定/yi2定/g; s/一下/yi2下/g; s/一个/yi2个/g; s/一次/yi2次/g; s/一样/yi2样/g' \
      -e 's/一件/yi2件/g; s/一位/yi2位/g; s/一块/yi2块/g; s/一遍/yi2遍/g; s/一会/yi2会/g' \
      -e 's/一起/yi4起/g; s/一点/yi4点/g; s/一直/yi4直/g; s/一边/yi4边/g; s/一百/yi4百/g' \
      -e 's/一些/yi4些/g; s/一般/yi4般/g; s/一天/yi4天/g; s/一年/yi4年/g; s/一条/yi4条/g' \
      -e 's/不要/bu2要/g; s/不会/bu2会/g; s/不是/bu2是/g; s/不对/bu2对/g; s/不够/bu2够/g' \
      -e 's/不到/bu2到/g; s/不用/bu2用/g; s/不住/bu2住/g; s/不论/bu2论/g; s/不过/bu2过/g' \
      -e 's/不动/bu2动/g; s/不怕/bu2怕/g; s/不算/bu2算/g; s/不再/bu2再/g; s/不见/bu2见/g' \
      -e 's/背心/bei4心/g; s/背部/bei4部/g; s/后背/后bei4/g; s/弯腰/wan1yao1/g; s/腰/yao1/g' \
      -e 's/扎紧/za1紧/g; s/系好/ji4好/g; s/系上/ji4上/g; s/调节/tiao2节/g; s/调整/tiao2整/g' \
      -e 's/空气/kong1气/g; s/出汗/出han4/g' \
      -e 's/几分钟/ji3分钟/g; s/倒di4/dao3di4/g; s/摔倒/摔dao3/g; s/跌倒/跌dao3/g; s/晕倒/晕dao3/g' \
      -e 's/倒下/dao3下/g; s/绊倒/绊dao3/g; s/滑倒/滑dao3/g; s/咳/ke2/g; s/中风/zhong4风/g; s/中暑/zhong4暑/g' \
      -e 's/心脏/心zang4/g; s/脏/zang1/g; s/宿舍/宿she4/g; s/一面/yi2面/g; s/中毒/zhong4毒/g' \
      -e 's/一切/yi2qie4/g; s/切/qie1/g'
}

say_wav() { # text-file out.wav
  fix_pron <"$1" | espeak-ng -v "$VOICE" -s "$SPEED" -p "$PITCH" -w "$2"
}

duration() { ffprobe -v error -show_entries format=duration -of csv=p=0 "$1"; }

check_audible() { # file label
  local mean
  mean=$(ffmpeg -hide_banner -nostats -i "$1" -map 0:a -af volumedetect -f null - 2>&1 |
         sed -n 's/.*mean_volume: \(-\?[0-9.]*\) dB.*/\1/p')
  [ -n "$mean" ] || die "$2: no audio stream"
  awk -v m="$mean" 'BEGIN { exit !(m > -35) }' || die "$2: mean volume $mean dB, is it silent?"
  # no stretch of 3 s or more without speech (a paragraph the voice failed to say)
  ! ffmpeg -hide_banner -nostats -i "$1" -map 0:a -af silencedetect=n=-40dB:d=3 -f null - 2>&1 |
    grep -q silence_end || die "$2: 3 s or more of silence inside"
  echo "$mean"
}

check_length() { # file label min max
  local d; d=$(duration "$1")
  awk -v d="$d" -v lo="$3" -v hi="$4" 'BEGIN { exit !(d >= lo && d <= hi) }' ||
    die "$2: length ${d}s is outside ${3}-${4}s"
  echo "$d"
}

png_out() { # in.png out.png : small palette PNG without timestamps
  convert "$1" -strip +dither -colors 64 -define png:exclude-chunks=date,time,tIME "PNG8:$2"
}

# A slide or card: a coloured title bar and the body as wrapped text.
render_card() { # title body-file width height(0 = fit) colour out.png [footer]
  local title=$1 body=$2 w=$3 h=$4 colour=$5 out=$6 footer=${7:-}
  local inner=$((w - 48)) bodypng="$TMP/body.png" x=24 y=80
  local pic; pic=$(sed -n 's/^@image \(.*\)$/\1/p' "$body")
  if [ -n "$pic" ]; then
    # a picture slide: the body is the one line "@image <file in media/>", drawn as large as fits
    [ "$(grep -c . "$body")" = 1 ] || die "$out: an @image slide has no other body lines"
    [ -f "$MEDIA_DIR/$pic" ] || die "$out: no $MEDIA_DIR/$pic (make it from media-src first)"
    convert "$MEDIA_DIR/$pic" -resize "${inner}x$((h - 60 - 12 - 24))>" "$bodypng"
    x=$(( (w - $(identify -format '%w' "$bodypng")) / 2 )) y=68
  else
    convert -background white -fill '#1a1a1a' -font "$FONT" -pointsize 28 -interline-spacing 12 \
      -size "${inner}x" caption:"$(sed 's/%/%%/g' "$body")" "$bodypng"
  fi
  local bh; bh=$(identify -format '%h' "$bodypng")
  if [ "$h" = 0 ]; then h=$((bh + 64 + 40)); fi
  [ $((bh + y - 16 + 24)) -le "$h" ] || die "$out: text does not fit (${bh}px of body for ${h}px)"
  convert -size "${w}x${h}" xc:white \
    -fill "$colour" -draw "rectangle 0,0 $w,60" \
    -font "$FONT" -fill white -pointsize 30 -annotate +24+42 "$title" \
    "$bodypng" -geometry "+$x+$y" -composite \
    ${footer:+-fill '#666666' -pointsize 16 -gravity southeast -annotate +14+8 "$footer"} \
    "$TMP/card.png"
  png_out "$TMP/card.png" "$out"
}

course_colour() {
  case "$1" in
    electrician-*) echo '#1f5fa8' ;;
    elderly-*) echo '#2f8a57' ;;
    construction-*) echo '#c25e00' ;;
    hygiene-*) echo '#00838f' ;;
    *) echo '#444444' ;;
  esac
}

course_title() { sed -n 's/^title *= *"\(.*\)"/\1/p' "$COURSES/$1/course.toml" | head -1; }

make_video() { # course dir-of-slides out.mp4
  local c=$1 dir=$2 out=$3 colour; colour=$(course_colour "$c")
  local ctitle; ctitle=$(course_title "$c")
  local work="$TMP/video" n i=0 list="$TMP/video/list.txt"
  rm -rf "$work"; mkdir -p "$work"
  n=$(ls "$dir"/*.txt | wc -l)
  : >"$list"
  local wavs=()
  for slide in "$dir"/*.txt; do
    i=$((i + 1))
    local title; title=$(head -1 "$slide")
    sed -n '2,/^---$/p' "$slide" | sed '/^---$/d' >"$work/body$i.txt"
    sed '1,/^---$/d' "$slide" >"$work/say$i.txt"
    [ -s "$work/say$i.txt" ] || die "$slide: no narration after ---"
    render_card "$title" "$work/body$i.txt" $SLIDE_W $SLIDE_H "$colour" "$work/slide$i.png" \
      "$ctitle  $i/$n"
    say_wav "$work/say$i.txt" "$work/raw$i.wav"
    # 0.4 s before and 0.8 s after each slide's narration; 3 dB down so the encoded peaks do not clip
    ffmpeg -v error -y -i "$work/raw$i.wav" -af "adelay=400,apad=pad_dur=0.8,volume=-3dB" -ar 22050 -ac 1 \
      "$work/say$i.wav"
    local d; d=$(duration "$work/say$i.wav")
    printf "file '%s'\nduration %s\n" "$work/slide$i.png" "$d" >>"$list"
    wavs+=("-i" "$work/say$i.wav")
  done
  printf "file '%s'\n" "$work/slide$i.png" >>"$list"
  ffmpeg -v error -y "${wavs[@]}" -filter_complex "concat=n=$n:v=0:a=1" "$work/narration.wav"
  ffmpeg -v error -y -f concat -safe 0 -i "$list" -i "$work/narration.wav" \
    -map 0:v -map 1:a -vf "fps=5,format=yuv420p" \
    -c:v libx264 -profile:v baseline -level 3.0 -preset veryslow -tune stillimage -crf 28 \
    -g 50 -threads 1 -c:a aac -b:a 32k -ar 22050 -ac 1 -shortest \
    -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
    -movflags +faststart "$out"
  local len mean
  len=$(check_length "$out" "$out" $VIDEO_MIN $VIDEO_MAX)
  mean=$(check_audible "$out" "$out")
  echo "  video $out: ${len}s, ${n} slides, mean volume ${mean} dB, $(stat -c %s "$out") bytes"
}

make_audio() { # text out.mp3
  local src=$1 out=$2 work="$TMP/audio" i=0
  rm -rf "$work"; mkdir -p "$work"
  local wavs=()
  # one paragraph per wav, 0.7 s of quiet between paragraphs
  awk -v dir="$work" 'BEGIN { RS = ""; } { n++; f = sprintf("%s/p%03d.txt", dir, n); print > f; close(f) }' "$src"
  for p in "$work"/p*.txt; do
    i=$((i + 1))
    say_wav "$p" "$work/raw$i.wav"
    ffmpeg -v error -y -i "$work/raw$i.wav" -af "apad=pad_dur=0.7,volume=-3dB" -ar 22050 -ac 1 "$work/s$i.wav"
    wavs+=("-i" "$work/s$i.wav")
  done
  ffmpeg -v error -y "${wavs[@]}" -filter_complex "concat=n=$i:v=0:a=1" \
    -c:a libmp3lame -b:a 32k -ar 22050 -ac 1 -map_metadata -1 -write_xing 1 \
    -fflags +bitexact -flags:a +bitexact "$out"
  local len mean
  len=$(check_length "$out" "$out" $AUDIO_MIN $AUDIO_MAX)
  mean=$(check_audible "$out" "$out")
  echo "  audio $out: ${len}s, ${i} paragraphs, mean volume ${mean} dB, $(stat -c %s "$out") bytes"
}

make_course() { # slug
  local c=$1 src="$COURSES/$1/media-src" dst="$COURSES/$1/media"
  MEDIA_DIR=$dst
  [ -d "$src" ] || { echo "$c: no media-src, skipped"; return; }
  mkdir -p "$dst"
  echo "$c"
  local f name
  for f in "$src"/*.mvg; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .mvg)
    sed "s#@FONT@#$FONT#g" "$f" >"$TMP/in.mvg"
    convert "mvg:$TMP/in.mvg" "$TMP/mvg.png" || die "$f: ImageMagick could not draw it"
    png_out "$TMP/mvg.png" "$dst/$name.png"
    echo "  image $dst/$name.png: $(identify -format '%wx%h' "$dst/$name.png"), $(stat -c %s "$dst/$name.png") bytes"
  done
  for f in "$src"/*.card.txt; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .card.txt)
    sed 1d "$f" >"$TMP/cardbody.txt"
    render_card "$(head -1 "$f")" "$TMP/cardbody.txt" 640 0 "$(course_colour "$c")" "$dst/$name.png"
    echo "  image $dst/$name.png: $(identify -format '%wx%h' "$dst/$name.png"), $(stat -c %s "$dst/$name.png") bytes"
  done
  for f in "$src"/*.video; do
    [ -d "$f" ] || continue
    make_video "$c" "$f" "$dst/$(basename "$f" .video).mp4"
  done
  for f in "$src"/*.audio.txt; do
    [ -e "$f" ] || continue
    make_audio "$f" "$dst/$(basename "$f" .audio.txt).mp3"
  done
}


# --check: the courses are well formed (lessons, media and answer indices), media lengths match.
check_courses() {
  command -v python3 >/dev/null || die "--check needs python3 (3.11 or later, for tomllib)"
  python3 - "$COURSES" <<'PY'
import json, math, os, re, subprocess, sys, tomllib
root = sys.argv[1]
SLUG = re.compile(r'^[a-z0-9_][a-z0-9._-]{0,63}$')
errors = []
def err(msg): errors.append(msg)
def load(path):
    with open(path, 'rb') as f:
        return tomllib.load(f)
def media_len(path):
    out = subprocess.run(['ffprobe', '-v', 'error', '-show_entries', 'format=duration',
                          '-of', 'csv=p=0', path], capture_output=True, text=True).stdout
    return float(out)
def check_items(where, items, answers, need_expl):
    ids = set()
    for it in items:
        i = it.get('id', '')
        if not SLUG.match(i): err(f'{where}: bad item id {i!r}')
        if i in ids: err(f'{where}: duplicate item id {i}')
        ids.add(i)
        kind, opts = it.get('kind'), it.get('options', [])
        if kind not in ('single', 'multiple', 'true_false'): err(f'{where} {i}: bad kind {kind!r}')
        if not it.get('prompt'): err(f'{where} {i}: no prompt')
        if kind == 'true_false' and opts != ['对', '错']: err(f'{where} {i}: true_false options must be ["对", "错"]')
        if len(opts) < 2: err(f'{where} {i}: fewer than 2 options')
        ans = answers.get(i)
        if ans is None: err(f'{where} {i}: no answer'); continue
        if not ans or sorted(set(ans)) != ans: err(f'{where} {i}: answer must be non-empty, ascending, unique')
        if any(not isinstance(a, int) or a < 0 or a >= len(opts) for a in ans): err(f'{where} {i}: answer {ans} outside the options')
        if kind in ('single', 'true_false') and len(ans) != 1: err(f'{where} {i}: {kind} needs exactly one answer')
        if kind == 'multiple' and len(ans) < 2: err(f'{where} {i}: a multiple item should have two or more answers')
        if need_expl and not it.get('explanation'): err(f'{where} {i}: no explanation')
    extra = set(answers) - ids
    if extra: err(f'{where}: answers for unknown items {sorted(extra)}')
    return len(items)
for slug in sorted(os.listdir(root)):
    cdir = os.path.join(root, slug)
    if not os.path.isdir(cdir): continue
    c = load(os.path.join(cdir, 'course.toml'))
    if c.get('slug') != slug or not SLUG.match(slug): err(f'{slug}: slug in course.toml is {c.get("slug")!r}')
    for k, t in (('title', str), ('summary', str), ('version', int), ('language', str), ('credit_hours', float), ('lessons', list), ('exam', str)):
        if not isinstance(c.get(k), t): err(f'{slug}: course.toml {k} missing or not {t.__name__}')
    if c.get('language') != 'zh-CN': err(f'{slug}: language is not zh-CN')
    media_dir = os.path.join(cdir, 'media')
    used = set()
    kinds = []
    for l in c.get('lessons', []):
        if not SLUG.match(l): err(f'{slug}: bad lesson slug {l!r}')
        md, meta = os.path.join(cdir, 'lessons', l + '.md'), os.path.join(cdir, 'lessons', l + '.toml')
        if not os.path.exists(md) or not os.path.exists(meta): err(f'{slug}/{l}: lesson .md or .toml missing'); continue
        text = open(md, encoding='utf-8').read()
        m = load(meta)
        if not text.startswith('# '): err(f'{slug}/{l}: .md must start with "# "')
        elif text.splitlines()[0][2:].strip() != m.get('title'): err(f'{slug}/{l}: .md heading and .toml title differ')
        han = len(re.findall(r'[\u4e00-\u9fff]', text))
        if not 300 <= han <= 800: err(f'{slug}/{l}: {han} Chinese characters, want 300-800')
        for ref in re.findall(r'!\[[^\]]*\]\(([^)]*)\)', text):
            if not ref.startswith('../media/') or not os.path.isfile(os.path.join(media_dir, ref[9:])): err(f'{slug}/{l}: image {ref} missing')
            used.add(ref[9:])
        kind = m.get('kind'); kinds.append(kind)
        if kind not in ('text', 'video', 'audio'): err(f'{slug}/{l}: bad kind {kind!r}')
        if not isinstance(m.get('min_study_seconds'), int): err(f'{slug}/{l}: min_study_seconds missing')
        if kind in ('video', 'audio'):
            f = m.get('media', '')
            path = os.path.join(media_dir, f)
            used.add(f)
            if not os.path.isfile(path): err(f'{slug}/{l}: media {f!r} missing'); continue
            want = {'video': '.mp4', 'audio': '.mp3'}[kind]
            if not f.endswith(want): err(f'{slug}/{l}: {kind} media should be {want}')
            d = m.get('duration_seconds')
            if d != round(media_len(path)): err(f'{slug}/{l}: duration_seconds {d}, media is {media_len(path):.1f}s')
        q = os.path.join(cdir, 'quizzes', l + '.toml')
        if not os.path.exists(q): err(f'{slug}/{l}: no quiz'); continue
        items = load(q).get('items', [])
        n = check_items(f'{slug}/quizzes/{l}', items, {it.get('id'): it.get('answer') for it in items}, True)
        if not 3 <= n <= 5: err(f'{slug}/{l}: quiz has {n} items, want 3-5')
    if 'video' not in kinds or 'audio' not in kinds: err(f'{slug}: needs a video lesson and an audio lesson')
    ex = load(os.path.join(cdir, 'exam', c.get('exam', '') + '.toml'))
    key = load(os.path.join(cdir, 'exam', c.get('exam', '') + '.key.toml')).get('answers', {})
    if not isinstance(ex.get('time_limit_minutes'), int) or not isinstance(ex.get('pass_percent'), int): err(f'{slug}: exam time_limit_minutes/pass_percent')
    if any('answer' in it or 'explanation' in it for it in ex.get('items', [])): err(f'{slug}: the exam file carries answers')
    n = check_items(f'{slug}/exam', ex.get('items', []), key, False)
    if not 10 <= n <= 15: err(f'{slug}: exam has {n} items, want 10-15')
    present = set(os.listdir(media_dir)) if os.path.isdir(media_dir) else set()
    for f in sorted(present - used): err(f'{slug}: media/{f} is not used by any lesson')
    print(f'{slug}: {len(c.get("lessons", []))} lessons ({", ".join(kinds)}), exam {n} items')
for e in errors: print('ERROR', e)
sys.exit(1 if errors else 0)
PY
}

if [ "${1:-}" = --check ]; then need_tools python3 ffprobe; check_courses; exit; fi

if [ "${1:-}" = --pinyin ]; then
  shift
  need_tools espeak-ng
  for f in "$@"; do
    echo "== $f"
    fix_pron <"$f" | espeak-ng -v "$VOICE" -q -X 2>&1 | sed -n 's/^Replace: *//p' | paste -sd' '
  done
  exit 0
fi

need_tools convert identify ffmpeg ffprobe espeak-ng
[ -f "$FONT" ] || die "missing font $FONT (apt-get install fonts-wqy-microhei)"
if [ $# -gt 0 ]; then courses=("$@"); else
  courses=(); for d in "$COURSES"/*/; do courses+=("$(basename "$d")"); done
fi
for c in "${courses[@]}"; do
  [ -f "$COURSES/$c/course.toml" ] || die "no course $c"
  make_course "$c"
done
