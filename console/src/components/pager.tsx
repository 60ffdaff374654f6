/** Previous/next over a Harbor list (page from 1); hidden when everything fits on one page. */
export function Pager({ page, size, total, onPage }: { page: number; size: number; total?: number; onPage: (p: number) => void }) {
  if (total === undefined || total <= size) return null;
  const last = Math.max(1, Math.ceil(total / size));
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span>
        Page {page} of {last} ({total})
      </span>
      <button type="button" disabled={page >= last} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}
