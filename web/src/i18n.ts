// Every word the pages show, in English and Korean, and the number, money and time formats.
// The language follows the browser's until the switch is used (then it is remembered).

import { ApiError } from './api';

const en = {
  'app.title': 'Tickets',
  'lang.switch': '한국어',
  'lang.switchLabel': 'Switch to Korean',
  'skip': 'Skip to content',
  'busy.retry': 'The service is busy. Trying again in {s} s…',
  'loading': 'Loading…',
  'noConcert': 'No concert is named in the address. Add ?concert=ID to it, for example:',
  // signing in
  'signin.intro': 'Sign in to take your place in line.',
  'signin.username': 'Username',
  'signin.usernameHint': 'Letters, digits, - and _ (up to 64). This local server signs anyone in by name.',
  'signin.button': 'Sign in',
  'signin.cognitoHint': 'You sign in on our sign-in page, then come back here.',
  'signin.badName': 'A username is 1 to 64 letters, digits, - or _.',
  'signin.as': 'Signed in as {name}.',
  'signin.signOut': 'Sign out',
  'signin.signedOut': 'You are signed out.',
  'signin.NETWORK': 'The sign-in service cannot be reached. Check your connection and try again.',
  'signin.REFUSED': 'The sign-in was not accepted. Please try again.',
  'signin.STATE': 'That sign-in did not start on this page, so it was not used. Please sign in again.',
  'signin.CANCELLED': 'The sign-in was cancelled. Sign in to take your place in line.',
  // start
  'start.heading': 'Tickets for {concert}',
  'start.intro': 'Take your place in line: you move on by yourself when it is your turn.',
  'start.join': 'Join the line',
  'start.noSuchConcert': 'There is no concert "{concert}". Check the address.',
  // waiting room
  'wait.heading': 'You are in the waiting room',
  'wait.position': 'Your place in line: {n}',
  'wait.eta': 'Estimated wait: about {t}',
  'wait.etaUnknown': 'Estimated wait: working it out…',
  'wait.progress': 'Progress through the line',
  'wait.nextCheck': 'We check again every few seconds; you move on by yourself.',
  'wait.keepOpen': 'Keep this page open: closing it gives up your place.',
  'wait.prequeue': 'Sales open in {t}',
  'wait.prequeueNote':
    'You are in the pre-queue. At the opening, everyone in it gets a place in line in random order: joining early gives no advantage.',
  'wait.admitted': 'It is your turn!',
  // dates and seats
  'dates.heading': 'Choose a date',
  'dates.free': '{n} seats free',
  'dates.none': 'No date has a free seat any more.',
  'dates.turnEnds': 'Your turn ends in {t}.',
  'seats.heading': 'Seats on {date}',
  'seats.back': 'Other dates',
  'seats.legend': 'Colours',
  'seats.available': 'Available',
  'seats.held': 'Held by someone',
  'seats.sold': 'Sold',
  'seats.selected': 'Your choice',
  'seats.section': '{name} · {price}',
  'seats.seatLabel': 'Seat {n}, {section}, {price}, {state}',
  'seats.limit': 'You can choose up to {n} seat(s).',
  'seats.chosen': 'Chosen: {list} · total {price}',
  'seats.chooseNone': 'No seat chosen yet.',
  'seats.hold': 'Hold my seats',
  'seats.tooMany': 'You can choose at most {n} seat(s).',
  'seats.gone': 'Seat {list} was just taken by someone else; pick another.',
  'seats.refreshed': 'The map refreshes every few seconds.',
  // hold
  'hold.heading': 'Your seats are held',
  'hold.what': 'Seat {list} on {date} · {price}',
  'hold.payWithin': 'Pay within {t}',
  'hold.balance': 'Your balance: {amount}',
  'hold.charge': 'Add {amount} to my balance',
  'hold.pay': 'Pay {amount}',
  'hold.release': 'Release these seats',
  'hold.expired': 'Your hold has ended and the seats are free again. Please choose again.',
  'hold.charged': 'Added {amount}. Your balance is now {balance}.',
  'hold.backToSeats': 'Back to the seats',
  // paid
  'paid.heading': 'Paid: see you at the concert!',
  'paid.what': 'Seat {list} on {date}',
  'paid.amount': 'Paid {amount}; your balance is {balance}.',
  'paid.ref': 'Payment reference: {id}',
  // reservations
  'mine.open': 'My reservations',
  'mine.heading': 'My reservations',
  'mine.none': 'You have no reservation yet.',
  'mine.item': 'Seat {list} · {date} · {price}',
  'mine.concert': 'Concert {concert}',
  'mine.more': 'Show older reservations',
  'mine.release': 'Release',
  'mine.refund': 'Refund',
  'mine.released': 'Released: the seats are free again.',
  'mine.refunded': 'Refunded {amount}; your balance is {balance}.',
  'mine.back': 'Back',
  'state.HELD': 'Held until {time}',
  'state.CONFIRMED': 'Paid',
  'state.EXPIRED': 'Hold ended',
  'state.RELEASED': 'Released',
  'state.REFUNDED': 'Refunded',
  // tickets
  'ticket.loading': 'Loading your tickets…',
  'ticket.unreadable': 'Your tickets could not be loaded just now. Open this list again to retry.',
  'ticket.label': 'Seat {n} · {section} · {date}',
  'ticket.qrLabel': 'Ticket QR code: {label}',
  'ticket.show': 'Show this code at the door.',
  'ticket.checkedIn': 'Checked in at {time}',
  'ticket.asText': 'The code as text',
  // the door
  'door.heading': 'The door',
  'door.intro': 'Scan a ticket, or paste its code: the answer says whether to let the holder in.',
  'door.code': 'Ticket code',
  'door.check': 'Check in',
  'door.scan': 'Scan with the camera',
  'door.stop': 'Stop the camera',
  'door.noCamera': 'This browser cannot read QR codes from the camera: paste the code instead.',
  'door.cameraFailed': 'The camera could not be opened (is it allowed for this page?): paste the code instead.',
  'door.scanning': 'Hold the ticket in front of the camera.',
  'door.video': 'The camera',
  'door.empty': "Paste or scan a ticket's code first.",
  'door.in': 'Let in: seat {n}, {section}',
  'door.inDetail': 'Concert {concert}, {date}.',
  'door.already': 'Already in since {time}: do not let in again.',
  'door.alreadyNoTime': 'Already checked in: do not let in again.',
  'door.refunded': 'Refunded: this ticket is no longer valid. Do not let in.',
  'door.invalid': 'Not a ticket of ours. Do not let in.',
  // admin
  'admin.title': 'Operator · Tickets',
  'admin.heading': 'The line, live',
  'admin.token': 'Operator token',
  'admin.tokenHint': 'Kept in this tab only (session storage).',
  'admin.concert': 'Concert ID',
  'admin.connect': 'Show',
  'admin.signOut': 'Forget the token',
  'admin.accessKeyId': 'AWS access key ID',
  'admin.secretAccessKey': 'AWS secret access key',
  'admin.sessionToken': 'Session token (temporary keys only)',
  'admin.keysHint':
    "Keys allowed by the stack's OperatorPolicy, kept in this tab only (session storage). Requests are signed here; the secret key is never sent.",
  'admin.signOutKeys': 'Sign out',
  'admin.waiting': 'Waiting',
  'admin.active': 'Active',
  'admin.limit': 'Active limit',
  'admin.perMinute': 'Admitted in the last minute',
  'admin.state': 'State',
  'admin.running': 'Running',
  'admin.pausedState': 'Paused',
  'admin.opensAt': 'Opening',
  'admin.noOpening': 'none',
  'admin.pause': 'Pause the line',
  'admin.resume': 'Resume the line',
  'admin.setLimit': 'Set the limit',
  'admin.setOpening': 'Set the opening',
  'admin.clearOpening': 'Clear the opening',
  'admin.openingField': 'Opening (your local time)',
  'admin.seatsHeading': 'Seats by date',
  'admin.date': 'Date',
  'admin.seats': 'Seats',
  'admin.available': 'Available',
  'admin.held': 'Held',
  'admin.sold': 'Sold',
  'admin.saved': 'Saved.',
  'admin.updated': 'Updated {time}',
  // refusals, by code
  'err.VALIDATION_FAILED': 'The request was not accepted: {detail}.',
  'err.SIGNED_OUT': 'Your sign-in has ended. Please sign in again.',
  'err.TOO_MANY_REQUESTS': 'Too many requests at once. Please wait a moment and try again.',
  'err.TICKET_INVALID': 'That is not one of our tickets.',
  'err.ALREADY_CHECKED_IN': 'This ticket was already used at the door.',
  'err.TICKET_REFUNDED': 'This ticket was refunded and is no longer valid.',
  'err.TOKEN_MISSING': 'Your place in line was lost. Please join the line again.',
  'err.TOKEN_INVALID': 'Your place in line is not valid any more. Please join the line again.',
  'err.TOKEN_EXPIRED': 'Your turn has ended. Please join the line again.',
  'err.TOKEN_NOT_ACTIVE': 'It is not your turn yet: please wait in the line.',
  'err.FORBIDDEN': 'That belongs to another user or another concert.',
  'err.NOT_FOUND': 'That does not exist (any more).',
  'err.SEAT_UNAVAILABLE': 'Someone else just took seat {seats}; pick another.',
  'err.SEAT_LIMIT_REACHED': 'You already hold as many seats as one buyer may.',
  'err.RESERVATION_EXPIRED': 'The hold ended before it was paid; the seats are free again.',
  'err.RESERVATION_NOT_HELD': 'This reservation is no longer held (it may be paid already).',
  'err.RESERVATION_NOT_PAID': 'Only a paid reservation can be refunded.',
  'err.REFUND_WINDOW_CLOSED': 'It is too late to refund this reservation.',
  'err.INSUFFICIENT_BALANCE': 'Your balance is too low for this price. Add money first.',
  'err.BALANCE_LIMIT_EXCEEDED': 'That would take your balance over 1,000,000,000 won.',
  'err.ADMIN_UNAUTHORIZED': 'The operator token is wrong or missing.',
  'err.IAM_SIGNATURE':
    "AWS did not accept the signature: check the access key ID, the secret key and the session token (temporary keys expire), and this computer's clock.",
  'err.IAM_DENIED':
    "These AWS keys may not use the operator API: attach the stack's OperatorPolicy to their user or role.",
  'err.IAM_NETWORK':
    "The API cannot be reached, or AWS refused the signed request without saying why. Check your connection, the keys and this computer's clock.",
  'err.IDEMPOTENCY_KEY_REUSED': 'This request was already made differently. Please try again.',
  'err.SERVICE_UNAVAILABLE': 'The service is busy right now. Please try again in a moment.',
  'err.INTERNAL_ERROR': 'Something went wrong on our side. Please try again.',
  'err.CATALOG_LOCKED': 'That can no longer change: seats of this concert were already held.',
  'err.NETWORK': 'The server cannot be reached. Check your connection and try again.',
  'err.other': 'The server refused this (HTTP {status}). Please try again.',
};

export type Key = keyof typeof en;

const ko: Record<Key, string> = {
  'app.title': '티켓',
  'lang.switch': 'English',
  'lang.switchLabel': '영어로 보기',
  'skip': '본문으로 건너뛰기',
  'busy.retry': '서비스가 혼잡합니다. {s}초 후 다시 시도합니다…',
  'loading': '불러오는 중…',
  'noConcert': '주소에 공연이 지정되지 않았습니다. 주소에 ?concert=ID 를 붙여 주세요. 예:',
  'signin.intro': '로그인하고 대기열에 들어가세요.',
  'signin.username': '사용자 이름',
  'signin.usernameHint': '영문, 숫자, - 와 _ (64자까지). 이 로컬 서버는 이름만으로 로그인합니다.',
  'signin.button': '로그인',
  'signin.cognitoHint': '로그인 페이지에서 로그인한 뒤 이 페이지로 돌아옵니다.',
  'signin.badName': '사용자 이름은 영문, 숫자, - 또는 _ 1~64자입니다.',
  'signin.as': '{name}(으)로 로그인했습니다.',
  'signin.signOut': '로그아웃',
  'signin.signedOut': '로그아웃했습니다.',
  'signin.NETWORK': '로그인 서비스에 연결할 수 없습니다. 연결을 확인하고 다시 시도해 주세요.',
  'signin.REFUSED': '로그인이 받아들여지지 않았습니다. 다시 시도해 주세요.',
  'signin.STATE': '이 페이지에서 시작한 로그인이 아니어서 사용하지 않았습니다. 다시 로그인해 주세요.',
  'signin.CANCELLED': '로그인이 취소되었습니다. 로그인하고 대기열에 들어가세요.',
  'start.heading': '{concert} 티켓',
  'start.intro': '대기열에 들어가세요. 차례가 되면 자동으로 넘어갑니다.',
  'start.join': '대기열 들어가기',
  'start.noSuchConcert': '"{concert}" 공연이 없습니다. 주소를 확인해 주세요.',
  'wait.heading': '대기실에 있습니다',
  'wait.position': '내 대기 순서: {n}번',
  'wait.eta': '예상 대기 시간: 약 {t}',
  'wait.etaUnknown': '예상 대기 시간: 계산 중…',
  'wait.progress': '대기열 진행 상황',
  'wait.nextCheck': '몇 초마다 자동으로 확인하며, 차례가 되면 자동으로 넘어갑니다.',
  'wait.keepOpen': '이 페이지를 닫지 마세요. 닫으면 순서를 잃습니다.',
  'wait.prequeue': '판매 시작까지 {t}',
  'wait.prequeueNote':
    '사전 대기열에 있습니다. 판매가 시작되면 사전 대기열의 모든 분께 무작위로 순서가 배정되므로, 일찍 들어와도 유리하지 않습니다.',
  'wait.admitted': '차례가 되었습니다!',
  'dates.heading': '날짜 선택',
  'dates.free': '남은 좌석 {n}석',
  'dates.none': '남은 좌석이 있는 날짜가 없습니다.',
  'dates.turnEnds': '내 차례는 {t} 후에 끝납니다.',
  'seats.heading': '{date} 좌석',
  'seats.back': '다른 날짜',
  'seats.legend': '색상 안내',
  'seats.available': '선택 가능',
  'seats.held': '다른 사람이 선점',
  'seats.sold': '판매 완료',
  'seats.selected': '내 선택',
  'seats.section': '{name} · {price}',
  'seats.seatLabel': '{n}번 좌석, {section}, {price}, {state}',
  'seats.limit': '최대 {n}석까지 선택할 수 있습니다.',
  'seats.chosen': '선택: {list} · 합계 {price}',
  'seats.chooseNone': '아직 선택한 좌석이 없습니다.',
  'seats.hold': '좌석 선점하기',
  'seats.tooMany': '최대 {n}석까지만 선택할 수 있습니다.',
  'seats.gone': '{list}번 좌석을 방금 다른 분이 선택했습니다. 다른 좌석을 골라 주세요.',
  'seats.refreshed': '좌석 배치도는 몇 초마다 새로 고쳐집니다.',
  'hold.heading': '좌석을 선점했습니다',
  'hold.what': '{date} {list}번 좌석 · {price}',
  'hold.payWithin': '{t} 안에 결제해 주세요',
  'hold.balance': '내 잔액: {amount}',
  'hold.charge': '잔액 {amount} 충전하기',
  'hold.pay': '{amount} 결제하기',
  'hold.release': '선점 취소하기',
  'hold.expired': '선점 시간이 끝나 좌석이 풀렸습니다. 다시 선택해 주세요.',
  'hold.charged': '{amount} 충전했습니다. 현재 잔액은 {balance}입니다.',
  'hold.backToSeats': '좌석으로 돌아가기',
  'paid.heading': '결제 완료: 공연장에서 만나요!',
  'paid.what': '{date} {list}번 좌석',
  'paid.amount': '{amount} 결제했습니다. 남은 잔액은 {balance}입니다.',
  'paid.ref': '결제 번호: {id}',
  'mine.open': '내 예약',
  'mine.heading': '내 예약',
  'mine.none': '아직 예약이 없습니다.',
  'mine.item': '{list}번 좌석 · {date} · {price}',
  'mine.concert': '공연 {concert}',
  'mine.more': '이전 예약 더 보기',
  'mine.release': '선점 취소',
  'mine.refund': '환불',
  'mine.released': '선점을 취소했습니다. 좌석이 다시 풀렸습니다.',
  'mine.refunded': '{amount} 환불했습니다. 현재 잔액은 {balance}입니다.',
  'mine.back': '돌아가기',
  'state.HELD': '{time}까지 선점',
  'state.CONFIRMED': '결제 완료',
  'state.EXPIRED': '선점 만료',
  'state.RELEASED': '선점 취소됨',
  'state.REFUNDED': '환불됨',
  'ticket.loading': '티켓을 불러오는 중…',
  'ticket.unreadable': '지금은 티켓을 불러올 수 없습니다. 목록을 다시 열어 주세요.',
  'ticket.label': '{n}번 좌석 · {section} · {date}',
  'ticket.qrLabel': '티켓 QR 코드: {label}',
  'ticket.show': '입장할 때 이 코드를 보여 주세요.',
  'ticket.checkedIn': '{time}에 입장 확인됨',
  'ticket.asText': '코드를 글자로 보기',
  'door.heading': '입장 확인',
  'door.intro': '티켓을 스캔하거나 코드를 붙여 넣으세요. 입장시켜도 되는지 알려 드립니다.',
  'door.code': '티켓 코드',
  'door.check': '입장 확인',
  'door.scan': '카메라로 스캔',
  'door.stop': '카메라 끄기',
  'door.noCamera': '이 브라우저는 카메라로 QR 코드를 읽을 수 없습니다. 코드를 붙여 넣어 주세요.',
  'door.cameraFailed': '카메라를 열 수 없습니다 (이 페이지에 허용되었나요?). 코드를 붙여 넣어 주세요.',
  'door.scanning': '티켓을 카메라 앞에 대 주세요.',
  'door.video': '카메라',
  'door.empty': '먼저 티켓 코드를 스캔하거나 붙여 넣어 주세요.',
  'door.in': '입장: {n}번 좌석, {section}',
  'door.inDetail': '공연 {concert}, {date}.',
  'door.already': '{time}에 이미 입장했습니다. 다시 입장시키지 마세요.',
  'door.alreadyNoTime': '이미 입장한 티켓입니다. 다시 입장시키지 마세요.',
  'door.refunded': '환불된 티켓이라 더 이상 유효하지 않습니다. 입장시키지 마세요.',
  'door.invalid': '우리 티켓이 아닙니다. 입장시키지 마세요.',
  'admin.title': '운영자 · 티켓',
  'admin.heading': '실시간 대기열',
  'admin.token': '운영자 토큰',
  'admin.tokenHint': '이 탭에만 보관됩니다 (세션 저장소).',
  'admin.concert': '공연 ID',
  'admin.connect': '보기',
  'admin.signOut': '토큰 지우기',
  'admin.accessKeyId': 'AWS 액세스 키 ID',
  'admin.secretAccessKey': 'AWS 비밀 액세스 키',
  'admin.sessionToken': '세션 토큰 (임시 키일 때만)',
  'admin.keysHint':
    '스택의 OperatorPolicy로 허용된 키입니다. 이 탭에만 보관되며 (세션 저장소), 요청은 여기서 서명하고 비밀 키는 보내지 않습니다.',
  'admin.signOutKeys': '로그아웃',
  'admin.waiting': '대기 중',
  'admin.active': '입장 중',
  'admin.limit': '동시 입장 한도',
  'admin.perMinute': '최근 1분 입장',
  'admin.state': '상태',
  'admin.running': '진행 중',
  'admin.pausedState': '일시 정지',
  'admin.opensAt': '판매 시작',
  'admin.noOpening': '없음',
  'admin.pause': '대기열 멈추기',
  'admin.resume': '대기열 재개',
  'admin.setLimit': '한도 저장',
  'admin.setOpening': '판매 시작 저장',
  'admin.clearOpening': '판매 시작 지우기',
  'admin.openingField': '판매 시작 (현지 시각)',
  'admin.seatsHeading': '날짜별 좌석',
  'admin.date': '날짜',
  'admin.seats': '좌석',
  'admin.available': '남음',
  'admin.held': '선점',
  'admin.sold': '판매',
  'admin.saved': '저장했습니다.',
  'admin.updated': '{time} 갱신',
  'err.VALIDATION_FAILED': '요청이 받아들여지지 않았습니다: {detail}.',
  'err.SIGNED_OUT': '로그인이 만료되었습니다. 다시 로그인해 주세요.',
  'err.TOO_MANY_REQUESTS': '요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.',
  'err.TICKET_INVALID': '우리 티켓이 아닙니다.',
  'err.ALREADY_CHECKED_IN': '이미 입장에 사용된 티켓입니다.',
  'err.TICKET_REFUNDED': '환불되어 더 이상 유효하지 않은 티켓입니다.',
  'err.TOKEN_MISSING': '대기 순서를 잃었습니다. 대기열에 다시 들어가 주세요.',
  'err.TOKEN_INVALID': '대기 순서가 더 이상 유효하지 않습니다. 대기열에 다시 들어가 주세요.',
  'err.TOKEN_EXPIRED': '내 차례가 끝났습니다. 대기열에 다시 들어가 주세요.',
  'err.TOKEN_NOT_ACTIVE': '아직 차례가 아닙니다. 대기열에서 기다려 주세요.',
  'err.FORBIDDEN': '다른 사용자나 다른 공연의 것입니다.',
  'err.NOT_FOUND': '존재하지 않거나 더 이상 없습니다.',
  'err.SEAT_UNAVAILABLE': '{seats}번 좌석을 방금 다른 분이 선택했습니다. 다른 좌석을 골라 주세요.',
  'err.SEAT_LIMIT_REACHED': '한 사람이 선점할 수 있는 좌석 수를 이미 채웠습니다.',
  'err.RESERVATION_EXPIRED': '결제 전에 선점 시간이 끝나 좌석이 풀렸습니다.',
  'err.RESERVATION_NOT_HELD': '이 예약은 더 이상 선점 상태가 아닙니다 (이미 결제되었을 수 있습니다).',
  'err.RESERVATION_NOT_PAID': '결제한 예약만 환불할 수 있습니다.',
  'err.REFUND_WINDOW_CLOSED': '이 예약은 환불 기간이 지났습니다.',
  'err.INSUFFICIENT_BALANCE': '잔액이 부족합니다. 먼저 충전해 주세요.',
  'err.BALANCE_LIMIT_EXCEEDED': '잔액은 10억 원을 넘을 수 없습니다.',
  'err.ADMIN_UNAUTHORIZED': '운영자 토큰이 없거나 틀렸습니다.',
  'err.IAM_SIGNATURE':
    'AWS가 서명을 받아들이지 않았습니다. 액세스 키 ID, 비밀 키, 세션 토큰(임시 키는 만료됩니다)과 이 컴퓨터의 시계를 확인해 주세요.',
  'err.IAM_DENIED': '이 AWS 키에는 운영자 API 권한이 없습니다. 사용자나 역할에 스택의 OperatorPolicy를 연결해 주세요.',
  'err.IAM_NETWORK': 'API에 연결할 수 없거나, AWS가 이유 없이 서명된 요청을 거절했습니다. 연결, 키와 이 컴퓨터의 시계를 확인해 주세요.',
  'err.IDEMPOTENCY_KEY_REUSED': '같은 요청이 다른 내용으로 이미 처리되었습니다. 다시 시도해 주세요.',
  'err.SERVICE_UNAVAILABLE': '지금 서비스가 혼잡합니다. 잠시 후 다시 시도해 주세요.',
  'err.INTERNAL_ERROR': '서버에 문제가 생겼습니다. 다시 시도해 주세요.',
  'err.CATALOG_LOCKED': '이미 좌석이 선점된 공연이라 바꿀 수 없습니다.',
  'err.NETWORK': '서버에 연결할 수 없습니다. 연결을 확인하고 다시 시도해 주세요.',
  'err.other': '서버가 요청을 거절했습니다 (HTTP {status}). 다시 시도해 주세요.',
};

export type Lang = 'en' | 'ko';
const tables: Record<Lang, Record<Key, string>> = { en, ko };

let lang: Lang = initialLang();

function initialLang(): Lang {
  const saved = localStorage.getItem('lang');
  if (saved === 'en' || saved === 'ko') return saved;
  return navigator.language.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export function currentLang(): Lang {
  return lang;
}

export function setLang(next: Lang): void {
  lang = next;
  localStorage.setItem('lang', next);
  document.documentElement.lang = next;
}

export type Params = Record<string, string | number>;

export function t(key: Key, params: Params = {}): string {
  return tables[lang][key].replace(/\{(\w+)\}/g, (_, name: string) =>
    name in params ? String(params[name]) : `{${name}}`,
  );
}

export function won(amount: number): string {
  return new Intl.NumberFormat(lang === 'ko' ? 'ko-KR' : 'en-US', {
    style: 'currency',
    currency: 'KRW',
  }).format(amount);
}

/** A count; null (the line could not be read just then) shows as a dash. */
export function num(n: number | null): string {
  if (n === null) return '—';
  return new Intl.NumberFormat(lang === 'ko' ? 'ko-KR' : 'en-US').format(n);
}

export function day(iso: string): string {
  const [y, m, d] = iso.split('-').map(Number);
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    weekday: 'short',
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    timeZone: 'UTC',
  }).format(Date.UTC(y, m - 1, d));
}

export function clockTime(iso: string): string {
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(new Date(iso));
}

/** A time of day to the minute, in the browser's time zone: "19:04". */
export function hourMinute(iso: string): string {
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso));
}

export function dateTime(iso: string): string {
  return new Intl.DateTimeFormat(lang === 'ko' ? 'ko-KR' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(new Date(iso));
}

/** A countdown: "4:05", "1:02:03". */
export function countdown(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A wait in words: "about 2 min", "about 40 s". */
export function wait(seconds: number): string {
  if (seconds < 60) return lang === 'ko' ? `${seconds}초` : `${seconds} s`;
  const min = Math.ceil(seconds / 60);
  return lang === 'ko' ? `${min}분` : `${min} min`;
}

/** A refusal in words, never a bare code. `seats` names the seats a hold was for. */
export function explain(err: unknown, seats: number[] = []): string {
  if (!(err instanceof ApiError)) return t('err.INTERNAL_ERROR');
  const key = `err.${err.code}` as Key;
  if (key in en) {
    return t(key, { seats: seats.join(', '), detail: err.detail });
  }
  return t('err.other', { status: err.status });
}
