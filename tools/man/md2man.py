#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the project's Markdown references into man pages.

docs/api.md and docs/libexmap.md are the one text to keep true; the man
pages are made from them, so a new opcode or function documented there
reaches its man page with no second edit.

  md2man.py page IN.md OUT --name N --section S --head F [--tail F]
      The whole of IN.md (less its title) as one page: F's roff (NAME,
      SYNOPSIS) first, then DESCRIPTION, then --tail's roff. "## X" becomes
      a subsection of DESCRIPTION ("### Y" under it: "X: Y"), except the
      headings --sh maps to a section of their own ("Example=EXAMPLES").
      --skip-functions leaves out the sections the functions mode makes
      pages of.

  md2man.py functions IN.md OUTDIR --section S [--see-also PAGE...]
      Every section headed "## name1, name2 - what they do", whose names
      are C identifiers, becomes OUTDIR/name1.S: its first code block is
      the SYNOPSIS, its text the DESCRIPTION, and each "### Heading" in it
      a section of that name (RETURN VALUE, ERRORS, ...). Every other name
      gets a symbolic link to the page. --symbols FILE (a version script)
      fails the run unless every global symbol there has a page.

Common options: --date, --source ("libexmap 0.1.0"), --manual.

The Markdown this project writes, and no more: ATX headings, paragraphs,
"- " and "1. " lists (nested by indentation), fenced code blocks, pipe
tables, `code`, **bold**, *italic*, [links](target) and HTML comments.
"""
import argparse
import os
import re
import sys

FUNC_HEADING = re.compile(
    r'^(?P<names>[A-Za-z_]\w*(?:, [A-Za-z_]\w*)*) - (?P<what>.+)$')


def die(msg):
    sys.exit('md2man: ' + msg)


# ---- inline text -------------------------------------------------------

def escape(text, code=True):
    """Roff-escape plain text (no fonts)."""
    text = text.replace('\\', '\\e')
    if code:
        # A minus in code and options must stay a minus, not a hyphen.
        text = text.replace('-', '\\-')
    return text


def inline_segments(text):
    """Splits Markdown inline text into (text, bold, italic, code)."""
    segs = []
    i = 0
    bold = italic = False
    buf = ''

    def flush():
        nonlocal buf
        if buf:
            segs.append((buf, bold, italic, False))
            buf = ''

    while i < len(text):
        c = text[i]
        if c == '`':
            end = text.find('`', i + 1)
            if end < 0:
                die('unclosed ` in: ' + text)
            flush()
            segs.append((text[i + 1:end], bold, italic, True))
            i = end + 1
        elif text.startswith('**', i):
            flush()
            bold = not bold
            i += 2
        elif c == '*' and (italic or re.match(r'\*\S', text[i:])):
            flush()
            italic = not italic
            i += 1
        elif c == '[' and re.match(r'\[([^\]]+)\]\(([^)]+)\)', text[i:]):
            m = re.match(r'\[([^\]]+)\]\(([^)]+)\)', text[i:])
            # Link text only: other documents are not man pages, and
            # their names say where to look (docs/ in the source).
            flush()
            segs.extend((t, b or bold, it or italic, cd)
                        for t, b, it, cd in inline_segments(m.group(1)))
            if m.group(2).startswith('http'):
                segs.append((' <' + m.group(2) + '>', False, italic, False))
            i += m.end()
        else:
            buf += c
            i += 1
    flush()
    if bold or italic:
        die('unbalanced ** or * in: ' + text)
    return segs


def inline(text):
    """Markdown inline text to roff, with explicit font changes. Code is
    bold, and never hyphenated at the end of a line."""
    out = plain = ''
    font = 'R'
    for t, bold, italic, code in inline_segments(text):
        raw = t
        bold = bold or code
        want = 'BI' if bold and italic else 'B' if bold else \
               'I' if italic else 'R'
        if want != font:
            out += '\\f[%s]' % want
            font = want
        t = escape(t, code)
        if code:
            # \% before a word stops hyphenation; inside one (after a
            # "(" of the prose) it would add a break point instead.
            t = re.sub(r'(\s)(?=\S)', r'\1\\%', t)
            if not plain or plain[-1].isspace():
                t = '\\%' + t
        plain += raw
        out += t
    if font != 'R':
        out += '\\f[R]'
    return out


def text_lines(text):
    """Roff lines for filled text: no line may start with . or '."""
    out = []
    for line in inline(text).split('\n'):
        line = line.strip()
        if line.startswith(('.', "'")):
            line = '\\&' + line
        out.append(line)
    return out


# ---- blocks ------------------------------------------------------------

def split_row(line):
    """Cells of a pipe-table row; a | inside `code` is not a separator."""
    cells, cur, code = [], '', False
    for c in line.strip().strip('|'):
        if c == '`':
            code = not code
        if c == '|' and not code:
            cells.append(cur.strip())
            cur = ''
        else:
            cur += c
    cells.append(cur.strip())
    return cells


def render_table(rows):
    head, body = rows[0], rows[2:]
    n = len(head)
    for row in body:
        if len(row) != n:
            die('table row with %d cells, header has %d: %s'
                % (len(row), n, row))
    if n > 4:
        return render_wide_table(head, body)
    # Columns of short cells as plain entries, so that tbl sizes them to
    # fit, narrowest first while they leave room on an 80-column terminal;
    # the others as text blocks, which tbl wraps, the widest of them
    # taking whatever width is left.
    widths = [max(len(r[k]) for r in [head] + body) for k in range(n)]
    plain = set()
    room = 60
    for k in sorted(range(n), key=lambda k: widths[k]):
        if widths[k] + 3 <= room:
            plain.add(k)
            room -= widths[k] + 3
    blocks = [k for k in range(n) if k not in plain]
    wide = max(blocks, key=lambda k: widths[k]) if blocks else n - 1
    # Unadjusted: a narrow column cannot be justified without gaps.
    out = ['.PP', '.ad l', '.TS', 'allbox tab(\t);',
           ' '.join(['lb'] * n),
           ' '.join('lx' if k == wide else 'l' for k in range(n)) + '.']

    def cell(k, text):
        lines = text_lines(text) if text else ['\\&']
        if k in plain:
            return ' '.join(lines)
        return 'T{\n' + '\n'.join(lines) + '\nT}'

    for row in [head] + body:
        out.append('\t'.join(cell(k, c) for k, c in enumerate(row)))
    # .PP does not space a paragraph from a table before it.
    out += ['.TE', '.sp', '.ad']
    return out


def render_wide_table(head, body):
    """A table too wide for a terminal as a list: one tagged paragraph per
    row, with a "column: cell" line for each cell that says something."""
    out = []
    for row in body:
        out += ['.TP'] + text_lines(row[0])
        lines = []
        for name, text in zip(head[1:], row[1:]):
            if text:
                lines.append(text_lines('*%s*: %s' % (name, text)))
        for k, cell in enumerate(lines):
            if k:
                out.append('.br')
            out += cell
    return out


def render_code(lines):
    out = ['.PP', '.EX']
    for line in lines:
        line = escape(line.expandtabs(8))
        if line.startswith(('.', "'")):
            line = '\\&' + line
        out.append(line)
    out += ['.EE']
    return out


LIST_ITEM = re.compile(r'^( *)(- |\d+\. )(.*)$')


def parse_blocks(lines):
    """Markdown lines to blocks: (kind, payload)."""
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith('```'):
            end = i + 1
            while end < len(lines) and not lines[end].startswith('```'):
                end += 1
            if end == len(lines):
                die('unclosed code block')
            blocks.append(('code', lines[i + 1:end]))
            i = end + 1
        elif line.startswith('|'):
            rows = []
            while i < len(lines) and lines[i].startswith('|'):
                rows.append(split_row(lines[i]))
                i += 1
            blocks.append(('table', rows))
        elif LIST_ITEM.match(line) and not LIST_ITEM.match(line).group(1):
            # A list runs until a line that is neither blank, an item, nor
            # indented (a blank line followed by an unindented line ends it).
            start = i
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if nxt.strip() and not nxt.startswith(' ') and \
                   not LIST_ITEM.match(nxt):
                    break
                if not nxt.strip() and (i + 1 >= len(lines) or (
                        not lines[i + 1].startswith(' ') and
                        not LIST_ITEM.match(lines[i + 1]))):
                    break
                i += 1
            blocks.append(('list', lines[start:i]))
        else:
            para = []
            while i < len(lines) and lines[i].strip() and \
                    not lines[i].startswith(('```', '|')) and \
                    not (LIST_ITEM.match(lines[i]) and para == []):
                para.append(lines[i])
                i += 1
            blocks.append(('para', '\n'.join(para)))
    return blocks


def render_list(lines):
    """A list (possibly nested by indentation) as .IP paragraphs."""
    items = []  # (indent, marker, [text lines])
    for line in lines:
        m = LIST_ITEM.match(line)
        if m and (not items or len(m.group(1)) <= items[-1][0] + 1 or
                  len(m.group(1)) >= items[-1][0] + 2):
            items.append((len(m.group(1)), m.group(2).strip(), [m.group(3)]))
        else:
            items[-1][2].append(line.strip())
    out = []
    levels = [0]
    for indent, marker, text in items:
        while indent > levels[-1]:
            out.append('.RS')
            levels.append(indent)
        while indent < levels[-1]:
            out.append('.RE')
            levels.pop()
        tag = '\\(bu' if marker == '-' else marker
        out.append('.IP %s %d' % (tag, 2 if marker == '-' else 4))
        # Blank lines inside an item separate its paragraphs.
        paras = '\n'.join(text).split('\n\n')
        for k, p in enumerate(paras):
            if k:
                out.append('.IP')
            out += text_lines(p.strip())
    out += ['.RE'] * (len(levels) - 1)
    return out


def render_blocks(lines):
    out = []
    for kind, payload in parse_blocks(lines):
        if kind == 'code':
            out += render_code(payload)
        elif kind == 'table':
            out += render_table(payload)
        elif kind == 'list':
            out += render_list(payload)
        else:
            out.append('.PP')
            out += text_lines(payload)
    return out


# ---- documents ---------------------------------------------------------

def read_sections(path):
    """(level, heading, lines) for the part before the first heading (level
    0) and for every heading; the title (# ...) and HTML comments go."""
    with open(path, encoding='utf-8') as f:
        text = re.sub(r'<!--.*?-->\n?', '', f.read(), flags=re.S)
    sections = [(0, '', [])]
    code = False
    for line in text.split('\n'):
        if line.startswith('```'):
            code = not code
        m = None if code else re.match(r'^(#{1,3}) (.*)$', line)
        if m and len(m.group(1)) == 1:
            continue
        if m:
            sections.append((len(m.group(1)), m.group(2).strip(), []))
        else:
            sections[-1][2].append(line)
    return sections


def th(name, section, args):
    return ['.\\" Generated by tools/man/md2man.py from %s; edit that.'
            % args.input,
            '.TH %s %s %s "%s" "%s"' % (name.upper(), section, args.date,
                                        args.source, args.manual)]


def function_names(heading):
    m = FUNC_HEADING.match(heading)
    return (m.group('names').split(', '), m.group('what')) if m else None


def cmd_page(args):
    sh = dict(kv.split('=', 1) for kv in args.sh)
    out = th(args.name, args.section, args)
    # tbl must run: the first line says so to man.
    out.insert(0, "'\\\" t")
    with open(args.head, encoding='utf-8') as f:
        out += f.read().rstrip('\n').split('\n')
    out.append('.SH DESCRIPTION')
    parent = ''
    skipping = False
    tail = []
    see = list(args.see_also)
    for level, heading, lines in read_sections(args.input):
        if level == 2:
            skipping = args.skip_functions and function_names(heading)
            if skipping:
                see.append('%s(%s)' % (skipping[0][0], args.section))
        if skipping:
            continue
        body = render_blocks(lines)
        if level == 0:
            out += body
        elif level == 2 and heading in sh:
            tail += ['.SH ' + sh[heading]] + body
            parent = None
        elif level == 2:
            parent = heading
            out += ['.SS ' + quote(heading)] + body
        else:
            name = heading if parent is None else parent + ': ' + heading
            (tail if parent is None else out).extend(
                ['.SS ' + quote(name)] + body)
    out += tail
    if args.tail:
        with open(args.tail, encoding='utf-8') as f:
            out += f.read().rstrip('\n').split('\n')
    out += see_also(see)
    write(args.output, out)


def see_also(pages):
    """SEE ALSO: NAME(S) items, in the order given."""
    items = [re.match(r'(.+)\((\w+)\)$', p).groups() for p in pages]
    return ['.SH SEE ALSO'] + [
        '.BR %s (%s)%s' % (escape(n), s, ',' if k < len(items) - 1 else '')
        for k, (n, s) in enumerate(items)]


def quote(heading):
    return '"%s"' % inline(heading).replace('"', '\\(dq')


def cmd_functions(args):
    pages = []
    for level, heading, lines in read_sections(args.input):
        if level == 2:
            names = function_names(heading)
            if names:
                pages.append([names[0], names[1], lines, []])
            else:
                pages.append(None)
        elif level == 3 and pages and pages[-1]:
            pages[-1][3].append((heading, lines))
    pages = [p for p in pages if p]
    if args.symbols:
        documented = {n for p in pages for n in p[0]}
        with open(args.symbols, encoding='utf-8') as f:
            wanted = re.findall(r'^\s*(\w+);', f.read(), flags=re.M)
        missing = sorted(set(wanted) - documented)
        if missing:
            die('%s: no "## name - ..." section for %s'
                % (args.input, ', '.join(missing)))
    os.makedirs(args.output, exist_ok=True)
    all_pages = [p[0][0] for p in pages]
    for names, what, lines, subs in pages:
        blocks = parse_blocks(lines)
        if not blocks or blocks[0][0] != 'code':
            die('section %s: the synopsis (a code block) must come first'
                % names[0])
        out = th(names[0], args.section, args)
        out.insert(0, "'\\\" t")
        # \% keeps each name whole at the end of a line.
        out += ['.SH NAME', '%s \\- %s' % (', '.join(
            '\\%' + escape(n) for n in names), inline(what))]
        if args.library:
            out += ['.SH LIBRARY', inline(args.library)]
        out += ['.SH SYNOPSIS', '.nf']
        for inc in args.include:
            out.append('.B #include <%s>' % inc)
        out.append('.PP')
        for line in blocks[0][1]:
            out.append('\\f[B]%s\\f[R]' % escape(line.expandtabs(8))
                       if line.strip() else '')
        out += ['.fi', '.SH DESCRIPTION']
        # The synopsis block is lines[start:end]; everything after it.
        start = next(i for i, l in enumerate(lines) if l.startswith('```'))
        end = next(i for i in range(start + 1, len(lines))
                   if lines[i].startswith('```'))
        rest = lines[end + 1:]
        out += render_blocks(rest)
        for heading, sub in subs:
            out += ['.SH ' + heading.upper()] + render_blocks(sub)
        me = '%s(%s)' % (names[0], args.section)
        out += see_also(args.see_also + [
            '%s(%s)' % (p, args.section) for p in all_pages
            if '%s(%s)' % (p, args.section) != me])
        path = os.path.join(args.output, '%s.%s' % (names[0], args.section))
        write(path, out)
        for alias in names[1:]:
            link = os.path.join(args.output, '%s.%s' % (alias, args.section))
            if os.path.lexists(link):
                os.remove(link)
            os.symlink('%s.%s' % (names[0], args.section), link)


def write(path, lines):
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')
    os.replace(path + '.tmp', path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('page', 'functions'):
        p = sub.add_parser(name)
        p.add_argument('input')
        p.add_argument('output')
        p.add_argument('--section', required=True)
        p.add_argument('--date', required=True)
        p.add_argument('--source', required=True)
        p.add_argument('--manual', default='')
    page = sub.choices['page']
    page.add_argument('--name', required=True)
    page.add_argument('--head', required=True)
    page.add_argument('--tail')
    page.add_argument('--sh', action='append', default=[],
                      help='HEADING=SECTION: a ## heading as its own .SH')
    page.add_argument('--skip-functions', action='store_true')
    page.add_argument('--see-also', action='append', default=[])
    fn = sub.choices['functions']
    fn.add_argument('--include', action='append', default=[])
    fn.add_argument('--library')
    fn.add_argument('--see-also', action='append', default=[])
    fn.add_argument('--symbols')
    args = ap.parse_args()
    if args.cmd == 'page':
        cmd_page(args)
    else:
        cmd_functions(args)


if __name__ == '__main__':
    main()
