import { PARENT_STILL_MISSING, waitsForParent } from '../../src/projections/framework/parent-retry';

describe('which quarantined events wait for a parent', () => {
  it('retries foreign key violations and updates of a row whose insert is missing, nothing else', () => {
    const fk =
      'rejected by the target database (table chat_messages, constraint chat_messages_conversation_id_fkey): missing parent: chat_messages.conversation_id 1 is not in conversations (yet) [SQLSTATE 23503]';
    expect(waitsForParent(fk)).toBe(true);
    expect(waitsForParent(`${PARENT_STILL_MISSING}${fk}`)).toBe(true);
    expect(
      waitsForParent(
        'rejected by the target database (table nodes): an update without its unchanged TOASTed columns (embedding) for a row the table does not hold, so those values are unknown (was its insert quarantined?); key {"id":"1"} [SQLSTATE 23502]',
      ),
    ).toBe(true);
    expect(waitsForParent('invalid public.auth_users row: email: invalid e-mail address')).toBe(false);
    expect(waitsForParent('rejected by the target database (table users, constraint users_email_key): duplicate key [SQLSTATE 23505]')).toBe(false);
  });
});
