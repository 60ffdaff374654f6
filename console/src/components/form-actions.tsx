/** A form's submit button, worded for adding or for saving an edit, and Cancel while editing. */
export function FormActions({ editing, add, save, onCancel, disabled }: { editing: boolean; add: string; save: string; onCancel?: () => void; disabled?: boolean }) {
  return (
    <>
      <button type="submit" class="primary" disabled={disabled}>
        {editing ? save : add}
      </button>
      {editing && (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      )}
    </>
  );
}
