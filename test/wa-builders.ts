/**
 * Minimal WhatsApp Cloud API webhook builders for ordering and durability tests (the fixture
 * shapes, with ids and times of the test's choosing).
 */
export const PHONE_NUMBER_ID = "200000000000001";
export const OTHER_PHONE_NUMBER_ID = "200000000000002";

const seconds = (ms: number) => String(Math.floor(ms / 1000));

export type WaValue = Record<string, unknown>;

export const inbound = (from: string, id: string, at: number, body = `text ${id}`): WaValue => ({
  contacts: [{ profile: { name: `Customer ${from}` }, wa_id: from }],
  messages: [{ from, id, timestamp: seconds(at), type: "text", text: { body } }],
});

export const reaction = (from: string, id: string, target: string, at: number, emoji: string): WaValue => ({
  contacts: [{ profile: { name: `Customer ${from}` }, wa_id: from }],
  messages: [{ from, id, timestamp: seconds(at), type: "reaction", reaction: { message_id: target, emoji } }],
});

export const status = (
  to: string,
  id: string,
  value: "sent" | "delivered" | "read" | "played" | "failed",
  at: number,
  code?: number,
): WaValue => ({
  statuses: [
    {
      id,
      status: value,
      timestamp: seconds(at),
      recipient_id: to,
      ...(code ? { errors: [{ code, title: `error ${code}`, message: `error ${code}`, error_data: { details: `details ${code}` } }] } : {}),
    },
  ],
});

export const echo = (to: string, id: string, at: number, body = `reply ${id}`): WaValue => ({
  message_echoes: [{ from: "15550001111", to, id, timestamp: seconds(at), type: "text", text: { body } }],
});

/** One POST: each value becomes a change of its own entry, as Meta batches them. */
export function whatsappPost(values: WaValue[], phoneNumberId = PHONE_NUMBER_ID) {
  return {
    object: "whatsapp_business_account",
    entry: values.map((value) => ({
      id: phoneNumberId === PHONE_NUMBER_ID ? "100000000000001" : "100000000000002",
      changes: [
        {
          field: "message_echoes" in value ? "smb_message_echoes" : "messages",
          value: {
            messaging_product: "whatsapp",
            metadata: { display_phone_number: "15550001111", phone_number_id: phoneNumberId },
            ...value,
          },
        },
      ],
    })),
  };
}
