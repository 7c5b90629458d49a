/**
 * nested-mime: builds a message whose multipart parts nest `levels` deep,
 * each level a multipart/mixed part holding the next, with a text line at
 * the bottom and every boundary closed on the way out (40,000 levels make
 * about 3 MB).
 */
export function nestedMimeMessage(levels: number, bottomLine = 'the innermost text'): Buffer {
  const parts: string[] = [
    'From: deep@client.test',
    'To: rcpt@remote.test',
    'Subject: nested',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="b0"`,
    '',
  ];
  for (let i = 0; i < levels; i++) parts.push(`--b${i}`, `Content-Type: multipart/mixed; boundary="b${i + 1}"`, '');
  parts.push(`--b${levels}`, 'Content-Type: text/plain', '', bottomLine);
  for (let i = levels; i >= 0; i--) parts.push(`--b${i}--`);
  return Buffer.from(parts.join('\r\n') + '\r\n');
}
