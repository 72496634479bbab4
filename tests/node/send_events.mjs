// Sends Office-like events with Microsoft's 1DS JavaScript SDK to the collector URL given
// as the first argument, then prints exactly what was tracked as JSON on stdout.
import { AppInsightsCore, ValueKind, EventPropertyType } from "@microsoft/1ds-core-js";
import { PostChannel } from "@microsoft/1ds-post-js";

const endpointUrl = process.argv[2];
const instrumentationKey =
  "4bc3d8f1a2e04c5b9d7e6f8a1b2c3d4e-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d-7001";

const core = new AppInsightsCore();
const post = new PostChannel();
core.initialize(
  {
    instrumentationKey,
    endpointUrl,
    disableDbgExt: true,
    extensions: [post],
    extensionConfig: {
      [post.identifier]: {
        // Send promptly and with fetch; no beacons, no retries into the void.
        alwaysUseXhrOverride: false,
        ignoreMc1Ms0CookieProcessing: true,
        disableTelemetry: false,
      },
    },
  },
  [],
);

const events = [
  {
    name: "Office.Word.FileOpen",
    data: {
      "EventInfo.Level": 1,
      "Document.Extension": "docx",
      "Activity.Duration": 1234,
    },
  },
  {
    name: "Office.Outlook.Desktop.Compose.SendMail",
    data: {
      "EventInfo.Level": 2,
      "User.Email": { value: "jan.jansen@minjenv.nl", kind: ValueKind.Pii_SmtpAddress },
      "Mail.Subject": {
        value: "Ontslagbrief-Canary-7f3a",
        kind: ValueKind.CustomerContent_GenericContent,
      },
      "Client.Ip": { value: "145.21.33.7", kind: ValueKind.Pii_IPV4Address },
      "Recipient.Count": { value: 3, propertyType: EventPropertyType.Int32 },
    },
  },
  {
    name: "Office.Licensing.Heartbeat",
    data: { "EventInfo.Level": 110, "License.State": "Licensed" },
  },
];

for (const event of events) {
  core.track({ ...event, iKey: instrumentationKey });
}

core.flush(false);
await new Promise((resolve) => setTimeout(resolve, 1500));
await new Promise((resolve) => core.unload(false, () => resolve()));
console.log(JSON.stringify(events));
process.exit(0);
