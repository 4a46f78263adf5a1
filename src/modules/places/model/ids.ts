/**
 * The ids met in a file. The standard makes `id` the table's primary key (unique): a repeated id is
 * reported on the repeating line, wherever it falls in the file. An import keeps the last
 * occurrence (it replaces the earlier one), so the report is a warning, in `validate` as in `import`.
 */
import { detach, reportValue, where } from './text.ts';
import type { RowResult, ValidationIssue } from './types.ts';

export class IdRegistry {
  // id → line of its first kept record, or -1 while it was only seen in refused rows. Keys are
  // copied off the reader's chunks (~15 MB for 200,000 rows).
  private readonly lines = new Map<string, number>();

  /** Notes the row's id; the duplicate_id warning when a kept record repeats a kept one. */
  see(result: RowResult, rawId: string | null | undefined): ValidationIssue | null {
    const id = (result.record?.id ?? rawId)?.trim();
    if (!id) return null;
    const first = this.lines.get(id);
    if (!result.record) {
      if (first === undefined) this.lines.set(detach(id), -1);
      return null;
    }
    if (first !== undefined && first > 0) {
      return {
        line: result.line, field: 'id', value: reportValue(id), severity: 'warning', code: 'duplicate_id',
        message: `${where(result.line, 'id')} : l’identifiant « ${id} » apparaît déjà ligne ${first} ; le standard demande un identifiant unique. À l’import, cette ligne remplace la précédente.`,
      };
    }
    this.lines.set(first === undefined ? detach(id) : id, result.line);
    return null;
  }

  /** Whether a kept record with this id was met (`see` would report a repeat). */
  kept(id: string): boolean {
    return (this.lines.get(id) ?? 0) > 0;
  }

  /** Every id of the file, kept or refused. */
  ids(): string[] {
    return [...this.lines.keys()];
  }
}
