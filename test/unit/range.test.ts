import t from 'tap';
import { parseContentRange, parseRangeHeader } from '../../core/range.js';

t.test('Range header: absent or non-bytes means the whole blob', async (t) => {
  t.equal(parseRangeHeader(undefined, 10), undefined);
  t.equal(parseRangeHeader('items=0-1', 10), undefined);
});

t.test('Range header: closed, open and suffix ranges', async (t) => {
  t.same(parseRangeHeader('bytes=0-0', 10), { start: 0, end: 0 });
  t.same(parseRangeHeader('bytes=2-5', 10), { start: 2, end: 5 });
  t.same(parseRangeHeader('bytes=2-', 10), { start: 2, end: 9 });
  t.same(parseRangeHeader('bytes=-3', 10), { start: 7, end: 9 });
  t.same(parseRangeHeader('bytes=5-100', 10), { start: 5, end: 9 }, 'end is clamped to the size');
  t.same(parseRangeHeader('bytes=-100', 10), { start: 0, end: 9 });
});

t.test('Range header: unsatisfiable ranges are 416 with Content-Range bytes */size', async (t) => {
  for (const h of ['bytes=10-', 'bytes=10-20', 'bytes=5-2', 'bytes=-0', 'bytes=-', 'bytes=0-1,3-4', 'bytes=a-b']) {
    t.throws(() => parseRangeHeader(h, 10), { code: 'UNSUPPORTED', status: 416, headers: { 'Content-Range': 'bytes */10' } }, h);
  }
});

t.test('Content-Range on PATCH: spec form and the bytes form clients send', async (t) => {
  t.same(parseContentRange('0-99'), { start: 0, end: 99 });
  t.same(parseContentRange('bytes 100-199/*'), { start: 100, end: 199 });
  t.same(parseContentRange('bytes=5-9'), { start: 5, end: 9 });
  t.throws(() => parseContentRange('abc'), { code: 'BLOB_UPLOAD_INVALID', status: 400 });
  t.throws(() => parseContentRange('10-5'), { code: 'BLOB_UPLOAD_INVALID', status: 416 });
});
