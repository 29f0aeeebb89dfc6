// Vietnamese first, English one tap away. Money as riders read it (9.000 ₫), times in Ho Chi Minh City.

const STRINGS = {
  vi: {
    skip: "Bỏ qua đến nội dung",
    nav: "Chính",
    navBuy: "Mua vé",
    navWallet: "Vé của tôi",
    navRecover: "Tìm lại vé",
    otherLanguage: "English",
    offline: "Không có mạng: vé đã lưu vẫn dùng được.",
    loading: "Đang tải…",
    buyTitle: "Mua vé Metro Tuyến 1",
    product: "Loại vé",
    products: {
      single: "Vé lượt",
      day: "Vé 1 ngày",
      three_day: "Vé 3 ngày",
      monthly: "Vé tháng",
      monthly_student: "Vé tháng HSSV",
    },
    productHelp: {
      single: "Một lượt giữa hai ga. Dùng trong {days} ngày kể từ khi mua.",
      day: "Đi không giới hạn trong một ngày, tính từ lần quét đầu tiên.",
      three_day: "Đi không giới hạn trong 3 ngày, tính từ lần quét đầu tiên.",
      monthly: "Gắn với CCCD của người đi: quét thẻ CCCD tại cổng, {days} ngày từ ngày bắt đầu.",
      monthly_student:
        "Gắn với CCCD. Vé chờ xác minh: mang thẻ học sinh, sinh viên đến quầy dịch vụ khách hàng ở bất kỳ ga nào; sau khi nhân viên xác minh, cổng mới cho qua.",
    },
    origin: "Ga đi",
    destination: "Ga đến",
    quantity: "Số vé",
    fareCashless: "Giá (chuyển khoản)",
    fareCash: "Giá tại quầy (tiền mặt)",
    total: "Tổng cộng",
    holder: "Người dùng vé",
    cccd: "Số CCCD (12 chữ số)",
    cccdHelp: "Chỉ lưu số đã che (0793******34) và mã băm; nhân viên đối chiếu chữ viết tắt tên và năm sinh.",
    fullName: "Họ và tên",
    birthDate: "Ngày sinh",
    startDate: "Ngày bắt đầu",
    staffWillSee: "Nhân viên sẽ thấy: {masked} · {initials} · sinh năm {year}",
    order: "Đặt vé và thanh toán",
    sameStation: "Ga đi và ga đến phải khác nhau.",
    working: "Đang xử lý…",
    payTitle: "Thanh toán bằng ứng dụng ngân hàng",
    payHelp: "Mở ứng dụng ngân hàng, chọn quét mã QR và quét mã dưới đây. Số tiền và nội dung đã điền sẵn.",
    vietqrAlt: "Mã VietQR chuyển khoản {amount} cho đơn {reference}",
    bank: "Ngân hàng (BIN)",
    account: "Số tài khoản",
    accountName: "Tên tài khoản",
    amount: "Số tiền",
    reference: "Nội dung chuyển khoản",
    copy: "Chép",
    copied: "Đã chép {what}",
    expiresIn: "Đơn hết hạn sau {time}",
    expired: "Đơn đã hết hạn. Hãy đặt lại.",
    waiting: "Đang chờ ngân hàng xác nhận… Trang tự cập nhật.",
    sandbox: "Chế độ thử nghiệm: tài khoản thử, không có tiền thật.",
    simulate: "Giả lập ngân hàng xác nhận",
    paid: "Đã thanh toán. Vé đã lưu vào máy này.",
    walletTitle: "Vé của tôi",
    walletEmpty: "Chưa có vé nào trên máy này.",
    keepWarning:
      "Vé chỉ lưu trong trình duyệt này. Xóa dữ liệu trình duyệt là mất vé — hãy lưu đường dẫn đơn hàng hoặc tải ảnh vé.",
    states: {
      unused: "Chưa dùng",
      in_use: "Đang dùng",
      used: "Đã dùng",
      expired: "Hết hạn",
      refunded: "Đã hoàn tiền",
      revoked: "Đã thu hồi",
    },
    validFrom: "Hiệu lực từ",
    validUntil: "đến",
    route: "{origin} → {destination}",
    wholeLine: "Toàn tuyến",
    showAtGate: "Đưa mã ra cổng",
    downloadPng: "Tải ảnh vé (PNG)",
    copyLink: "Chép đường dẫn đơn hàng",
    linkCopied: "Đã chép đường dẫn. Mở nó trên máy khác để lấy vé.",
    receipt: "Biên nhận",
    refund: "Hoàn vé",
    refundConfirm: "Hoàn vé này? Hoàn {amount} (phí {fee}). Tiền được chuyển sau {hours} giờ nếu vé không được dùng.",
    refundDone: "Đã hoàn vé.",
    gateTitle: "Đưa mã này vào máy quét",
    brightness: "Hãy tăng độ sáng màn hình lên tối đa.",
    fullscreen: "Toàn màn hình",
    back: "Quay lại",
    qrAlt: "Mã QR vé {serial}",
    qrMissing: "Chưa có ảnh mã trên máy này: mở lại khi có mạng.",
    reissued: "Vé đã được cấp mã mới: mã cũ không còn dùng được ở cổng.",
    receiptTitle: "Biên nhận đơn hàng",
    orderId: "Mã đơn",
    created: "Đặt lúc",
    paidAt: "Thanh toán lúc",
    method: "Hình thức",
    methods: { vietqr: "Chuyển khoản VietQR", sandbox: "Thử nghiệm (không có tiền thật)" },
    items: "Đã mua",
    print: "In biên nhận",
    statusLabel: "Trạng thái",
    status: { awaiting_payment: "Chờ thanh toán", paid: "Đã thanh toán", expired: "Hết hạn", cancelled: "Đã hủy" },
    recoverTitle: "Tìm lại vé đã mua",
    recoverHelp:
      "Mất vé vì xóa trình duyệt? Mở ứng dụng ngân hàng, tìm giao dịch chuyển khoản và nhập nội dung, số tiền, ngày chuyển. Vé tháng không cần tìm lại: thẻ CCCD chính là vé.",
    paidOn: "Ngày chuyển khoản",
    find: "Tìm đơn hàng",
    recovered: "Đã tìm thấy đơn. Đường dẫn cũ không còn dùng được.",
    notFound: "Không tìm thấy đơn nào khớp. Kiểm tra lại nội dung, số tiền và ngày.",
    linkDead: "Đường dẫn này không còn dùng được (đơn đã được tìm lại ở nơi khác).",
    storageFull: "Bộ nhớ trình duyệt đầy: hãy lưu đường dẫn đơn hàng.",
    errors: {
      offline: "Không có mạng. Thử lại khi có sóng.",
      cccd_format: "Số CCCD gồm đúng 12 chữ số.",
      cccd_province: "Ba số đầu của CCCD không phải mã tỉnh nào.",
      cccd_birth_year_mismatch: "Số thứ 4–6 của CCCD không khớp năm sinh.",
      invalid_request: "Thông tin chưa hợp lệ.",
      invalid_start_date: "Ngày bắt đầu không hợp lệ.",
      rate_limited: "Quá nhiều yêu cầu. Chờ một chút rồi thử lại.",
      refunds_not_allowed: "Vé không được hoàn theo quy định của nhà vận hành.",
      ticket_not_refundable: "Vé này không hoàn được (đã dùng, hết hạn hoặc đã hoàn).",
      order_expired: "Đơn đã hết hạn.",
      unknown: "Có lỗi xảy ra.",
    },
  },
  en: {
    skip: "Skip to content",
    nav: "Main",
    navBuy: "Buy",
    navWallet: "My tickets",
    navRecover: "Recover tickets",
    otherLanguage: "Tiếng Việt",
    offline: "No network: saved tickets still work.",
    loading: "Loading…",
    buyTitle: "Buy a Metro Line 1 ticket",
    product: "Ticket type",
    products: {
      single: "Single journey",
      day: "Day pass",
      three_day: "3-day pass",
      monthly: "Monthly pass",
      monthly_student: "Student monthly pass",
    },
    productHelp: {
      single: "One ride between two stations. Valid for {days} days from purchase.",
      day: "Unlimited rides for a day, from the first scan.",
      three_day: "Unlimited rides for 3 days, from the first scan.",
      monthly: "Linked to the rider's CCCD: scan the CCCD card at the gate, {days} days from the start date.",
      monthly_student:
        "Linked to the CCCD. Pending verification: bring your student card to the customer service desk of any station; gates let you through once staff have checked it.",
    },
    origin: "From",
    destination: "To",
    quantity: "Tickets",
    fareCashless: "Fare (bank transfer)",
    fareCash: "Fare at the counter (cash)",
    total: "Total",
    holder: "Pass holder",
    cccd: "CCCD number (12 digits)",
    cccdHelp: "Only the masked number (0793******34) and a keyed hash are kept; staff compare initials and birth year.",
    fullName: "Full name",
    birthDate: "Date of birth",
    startDate: "Start date",
    staffWillSee: "Staff will see: {masked} · {initials} · born {year}",
    order: "Order and pay",
    sameStation: "Origin and destination must differ.",
    working: "Working…",
    payTitle: "Pay with your banking app",
    payHelp: "Open your banking app, choose scan QR and scan this code. Amount and reference are filled in.",
    vietqrAlt: "VietQR code for a transfer of {amount}, order {reference}",
    bank: "Bank (BIN)",
    account: "Account number",
    accountName: "Account name",
    amount: "Amount",
    reference: "Transfer reference",
    copy: "Copy",
    copied: "Copied {what}",
    expiresIn: "Order expires in {time}",
    expired: "The order has expired. Please order again.",
    waiting: "Waiting for the bank to confirm… This page updates by itself.",
    sandbox: "Sandbox mode: a test account, no real money.",
    simulate: "Simulate the bank's confirmation",
    paid: "Paid. Your tickets are saved on this device.",
    walletTitle: "My tickets",
    walletEmpty: "No tickets on this device yet.",
    keepWarning:
      "Tickets live in this browser only. Clearing browser data loses them — save the order link or download the ticket image.",
    states: {
      unused: "Unused",
      in_use: "In use",
      used: "Used",
      expired: "Expired",
      refunded: "Refunded",
      revoked: "Revoked",
    },
    validFrom: "Valid from",
    validUntil: "until",
    route: "{origin} → {destination}",
    wholeLine: "Whole line",
    showAtGate: "Show at the gate",
    downloadPng: "Download ticket image (PNG)",
    copyLink: "Copy the order link",
    linkCopied: "Link copied. Open it on another device to get the tickets there.",
    receipt: "Receipt",
    refund: "Refund",
    refundConfirm: "Refund this ticket? {amount} back (fee {fee}), paid after {hours} hours if the ticket is not used.",
    refundDone: "Ticket refunded.",
    gateTitle: "Hold this code to the scanner",
    brightness: "Turn your screen brightness all the way up.",
    fullscreen: "Full screen",
    back: "Back",
    qrAlt: "QR code of ticket {serial}",
    qrMissing: "No code image on this device yet: open again with a network.",
    reissued: "This ticket has a new code: the old one no longer opens the gates.",
    receiptTitle: "Order receipt",
    orderId: "Order",
    created: "Ordered",
    paidAt: "Paid",
    method: "Payment",
    methods: { vietqr: "VietQR bank transfer", sandbox: "Sandbox (no real money)" },
    items: "Bought",
    print: "Print receipt",
    statusLabel: "Status",
    status: { awaiting_payment: "Awaiting payment", paid: "Paid", expired: "Expired", cancelled: "Cancelled" },
    recoverTitle: "Recover lost tickets",
    recoverHelp:
      "Lost your tickets by clearing the browser? Find the transfer in your banking app and enter its reference, amount and date. Monthly passes need nothing: the CCCD card is the pass.",
    paidOn: "Date of the transfer",
    find: "Find my order",
    recovered: "Order found. The old link no longer works.",
    notFound: "No order matches. Check the reference, amount and date.",
    linkDead: "This link no longer works (the order was recovered elsewhere).",
    storageFull: "The browser's storage is full: save the order link.",
    errors: {
      offline: "No network. Try again when you have a signal.",
      cccd_format: "A CCCD number is exactly 12 digits.",
      cccd_province: "The first three digits of the CCCD are not a province code.",
      cccd_birth_year_mismatch: "Digits 4–6 of the CCCD do not match the date of birth.",
      invalid_request: "Some details are not valid.",
      invalid_start_date: "The start date is not valid.",
      rate_limited: "Too many requests. Wait a moment and try again.",
      refunds_not_allowed: "Tickets are not refundable under the operator's rules.",
      ticket_not_refundable: "This ticket cannot be refunded (used, expired or refunded already).",
      order_expired: "The order has expired.",
      unknown: "Something went wrong.",
    },
  },
};

let current = localStorage.getItem("metro-qr.lang") === "en" ? "en" : "vi";

export function lang() {
  return current;
}

export function setLang(value) {
  current = value === "en" ? "en" : "vi";
  localStorage.setItem("metro-qr.lang", current);
  document.documentElement.lang = current;
}

function lookup(path) {
  return path.split(".").reduce((node, part) => (node == null ? undefined : node[part]), STRINGS[current]);
}

export function t(path, values = {}) {
  const text = lookup(path) ?? path;
  return String(text).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// The service's refusal in the rider's language: ours for codes we know, with the service's own detail.
export function errorText(error) {
  const known = lookup(`errors.${error.code}`);
  if (known) return error.detail && current === "en" ? `${known} (${error.detail})` : known;
  return error.detail || t("errors.unknown");
}

export function vnd(amount) {
  return `${new Intl.NumberFormat("vi-VN").format(amount)} ₫`;
}

const ZONE = "Asia/Ho_Chi_Minh";

export function when(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(current === "vi" ? "vi-VN" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: ZONE,
  }).format(new Date(iso));
}

export function todayInHcmc() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: ZONE }).format(new Date());
}

export function stationName(station) {
  return current === "vi" ? station.name_vi : station.name_en;
}
