import t from 'tap';
import { agentPeerIdPrefix, originPeerIdPrefix, parseBerthPeerId, takesWholePieces } from '../../core/p2p-peer-id.js';

const id = (prefix: string) => Buffer.concat([Buffer.from(prefix, 'latin1'), Buffer.alloc(12, 7)]);

t.test('Berth peer ids name role and version; other clients are not Berth peers', async (t) => {
  t.same(parseBerthPeerId(id(agentPeerIdPrefix)), { role: 'agent', version: 200 });
  t.same(parseBerthPeerId(id(originPeerIdPrefix)), { role: 'origin', version: 200 });
  t.same(parseBerthPeerId(id('-BA0100-')), { role: 'agent', version: 100 });
  t.equal(parseBerthPeerId(id('-aria2-0')), undefined);
  t.equal(parseBerthPeerId(id('-BX0200-')), undefined);
  t.equal(parseBerthPeerId(null), undefined);
  // a view into a larger buffer is read from its own offset
  const big = Buffer.concat([Buffer.from('xxxx'), id(agentPeerIdPrefix)]);
  t.same(parseBerthPeerId(big.subarray(4)), { role: 'agent', version: 200 });
});

t.test('whole pieces from version 0200 on', async (t) => {
  t.ok(takesWholePieces({ role: 'agent', version: 200 }));
  t.ok(takesWholePieces({ role: 'origin', version: 300 }));
  t.notOk(takesWholePieces({ role: 'agent', version: 100 }));
});
