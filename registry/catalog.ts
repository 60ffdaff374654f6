import type { MetaStore } from '../storage-adapters/meta/meta-store.js';

// The repositories this registry holds, for readers that walk all of them (replication's local source).

const PAGE = 1000;

export class Catalog {
  constructor(private readonly meta: MetaStore) {}

  /** Every repository, lexically, read in pages. */
  async *repositories(): AsyncIterable<string> {
    let last: string | undefined;
    for (;;) {
      const page = await this.meta.listRepositories({ ...(last !== undefined && { last }), n: PAGE });
      yield* page;
      if (page.length < PAGE) return;
      last = page[page.length - 1];
    }
  }
}
