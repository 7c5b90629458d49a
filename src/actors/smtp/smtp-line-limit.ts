/**
 * smtp-line-limit: Postfix's smtp_line_length_limit: a header or body line
 * longer than the limit (CRLF not counted) is sent in pieces, each piece
 * after the first starting with a space, as Postfix's smtp client inserts
 * "<CR><LF><SPACE>": the first piece holds `limit` octets, the others a
 * space and `limit - 1` octets, so no line on the wire is longer than the
 * limit. A line of exactly `limit` octets is not touched; 0 disables the
 * limit. Pure; returns the same Buffer when no line is too long.
 */

const LF = 0x0a;
const CR = 0x0d;
const CRLF = Buffer.from('\r\n');
const SPACE_BYTE = Buffer.from(' ');

/**
 * True when some line of `content` is longer than `limit` (its CRLF or LF
 * not counted). Steps a window of `limit` bytes at a time: every line that
 * ends inside the window is short enough, so the search goes on after the
 * window's last LF, and only a line with no LF in the window is measured.
 */
export function hasLongLine(content: Buffer, limit: number): boolean {
  let start = 0;
  while (content.length - start > limit) {
    const lastLf = content.lastIndexOf(LF, start + limit);
    if (lastLf >= start) {
      start = lastLf + 1;
      continue;
    }
    const lf = content.indexOf(LF, start);
    const end = lf < 0 ? content.length : lf > start && content[lf - 1] === CR ? lf - 1 : lf;
    if (end - start > limit) return true;
    start = lf + 1;
  }
  return false;
}

/** The content with every line longer than `limit` broken as Postfix does. */
export function breakLongLines(content: Buffer, limit: number): Buffer {
  if (limit <= 0 || !hasLongLine(content, limit)) return content;
  let parts: Buffer[] | undefined;
  let copied = 0;
  let lineStart = 0;
  while (lineStart < content.length) {
    const lf = content.indexOf(LF, lineStart);
    const next = lf < 0 ? content.length : lf + 1;
    const end = lf < 0 ? content.length : lf > lineStart && content[lf - 1] === CR ? lf - 1 : lf;
    if (end - lineStart > limit) {
      parts ??= [];
      parts.push(content.subarray(copied, lineStart));
      let pos = lineStart;
      let space = limit;
      while (end - pos >= space) {
        parts.push(content.subarray(pos, pos + space), CRLF);
        pos += space;
        space = limit;
        if (end > pos) {
          parts.push(SPACE_BYTE);
          space -= 1;
        }
      }
      // The rest of the line and its own line end (none when the message ends without one).
      if (end > pos) parts.push(content.subarray(pos, end), lf < 0 ? Buffer.alloc(0) : CRLF);
      else if (lf < 0) parts.pop();
      copied = next;
    }
    lineStart = next;
  }
  if (!parts) return content;
  parts.push(content.subarray(copied));
  return Buffer.concat(parts);
}
